//! One-time credentials per 別紙1 (R12.1): user IDs of exactly 10 and passwords of exactly 8
//! alphanumeric characters, drawn from a CSPRNG, without the characters that are confused on paper
//! (0/O/o, 1/l/I/i, j), and each holding both letters and digits.
//!
//! The random source is passed in, so that tests can draw many values; production passes `OsRng`.

use rand::{CryptoRng, Rng};

pub const LOGIN_ID_LEN: usize = 10;
pub const PASSWORD_LEN: usize = 8;

/// Lower-case only, so that an ID read aloud on the phone needs no "capital" remarks.
const ID_LETTERS: &[u8] = b"abcdefghkmnpqrstuvwxyz";
const PW_LETTERS: &[u8] = b"abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";

/// Every character that may appear in a generated ID or password.
pub fn is_unambiguous(c: char) -> bool {
    c.is_ascii() && (PW_LETTERS.contains(&(c as u8)) || DIGITS.contains(&(c as u8)))
}

fn draw<R: Rng + CryptoRng>(rng: &mut R, letters: &[u8], len: usize) -> String {
    let alphabet: Vec<u8> = letters.iter().chain(DIGITS).copied().collect();
    // Rejection sampling keeps the draw uniform over the strings that have both kinds.
    loop {
        let s: String = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
            .collect();
        if s.chars().any(|c| c.is_ascii_digit()) && s.chars().any(|c| c.is_ascii_alphabetic()) {
            return s;
        }
    }
}

pub fn generate_login_id<R: Rng + CryptoRng>(rng: &mut R) -> String {
    draw(rng, ID_LETTERS, LOGIN_ID_LEN)
}

pub fn generate_password<R: Rng + CryptoRng>(rng: &mut R) -> String {
    draw(rng, PW_LETTERS, PASSWORD_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn r12_1_ids_and_passwords_have_the_exact_format_over_many_draws() {
        let mut rng = rand::rngs::OsRng;
        let mut ids = HashSet::new();
        for _ in 0..20_000 {
            let id = generate_login_id(&mut rng);
            let pw = generate_password(&mut rng);
            assert_eq!(id.chars().count(), 10);
            assert_eq!(pw.chars().count(), 8);
            for s in [&id, &pw] {
                assert!(
                    s.chars()
                        .all(|c| c.is_ascii_alphanumeric() && is_unambiguous(c)),
                    "{s}"
                );
                assert!(s.chars().any(|c| c.is_ascii_digit()), "{s}");
                assert!(s.chars().any(|c| c.is_ascii_alphabetic()), "{s}");
                for bad in ['0', 'O', 'o', '1', 'l', 'I', 'i', 'j'] {
                    assert!(!s.contains(bad), "{s} contains {bad}");
                }
            }
            ids.insert(id);
        }
        // 30^10 possible IDs: 20,000 draws colliding would mean a broken generator.
        assert_eq!(ids.len(), 20_000);
    }

    #[test]
    fn every_allowed_character_is_actually_drawn() {
        let mut rng = rand::rngs::OsRng;
        let seen: HashSet<char> = (0..5_000)
            .flat_map(|_| generate_password(&mut rng).chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), PW_LETTERS.len() + DIGITS.len());
    }
}
