//! How guessable a password that a person chooses is (ASVS 2.1.7, NIST SP 800-63B 5.1.1.2).
//!
//! Two checks, both on new passwords only (a password change, the first change of a one-time
//! password); the one-time passwords the system issues for sealed letters (`credentials`) are
//! random and are not checked here:
//! - **The list**: `common_passwords.txt`, 19,640 common and breached passwords (lower-cased),
//!   from Django's `CommonPasswordValidator` (BSD-3-Clause; where it comes from and how to update
//!   it: `common_passwords.NOTICE.txt`). A password on it, in any letter case, is refused.
//! - **The estimator**: zxcvbn (dictionaries, keyboard patterns, repeats, sequences, dates,
//!   l33t substitutions), given the person's log-in ID and name and the service's own words
//!   ([`SERVICE_WORDS`]) as words an attacker would try first. A score below
//!   `[security.password] min_strength` (0–4, default 3: at least 10^8 guesses) is refused, with
//!   the estimator's reason in Japanese.

use std::collections::HashSet;
use std::sync::OnceLock;

use zxcvbn::feedback::Warning;

/// Words of this service that an attacker tries first (NIST: "context-specific words").
pub const SERVICE_WORDS: &[&str] = &[
    "rainbownet",
    "rainbow",
    "kiyosu",
    "kiyosurainbownet",
    "きよす",
    "レインボーネット",
];

const LIST: &str = include_str!("common_passwords.txt");

fn list() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether `password` is on the bundled list of common and breached passwords (any case).
pub fn is_common(password: &str) -> bool {
    list().contains(password.to_lowercase().as_str())
}

/// Why a password is too easy to guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weakness {
    /// On the bundled list.
    Common,
    /// Easy to guess, for the reason given (Japanese, shown in parentheses).
    Guessable(&'static str),
}

/// Checks a new password against the list and the estimator. `personal` are the person's own
/// words (log-in ID, name); `min_score` is zxcvbn's 0–4 (0 turns the estimator off).
pub fn weakness(password: &str, personal: &[&str], min_score: u8) -> Option<Weakness> {
    if is_common(password) {
        return Some(Weakness::Common);
    }
    if min_score == 0 {
        return None;
    }
    let mut words: Vec<&str> = personal
        .iter()
        .flat_map(|w| std::iter::once(*w).chain(w.split_whitespace()))
        .filter(|w| w.chars().count() >= 3)
        .collect();
    words.extend_from_slice(SERVICE_WORDS);
    let entropy = zxcvbn::zxcvbn(password, &words);
    if u8::from(entropy.score()) >= min_score.min(4) {
        return None;
    }
    // The same password without the person's and the service's words: if it would pass, those
    // words are what makes it guessable.
    if u8::from(zxcvbn::zxcvbn(password, &[]).score()) >= min_score.min(4) {
        return Some(Weakness::Guessable(
            "ログインID・氏名・サービス名などを含んでいます",
        ));
    }
    let warning = entropy.feedback().and_then(|f| f.warning());
    Some(match warning {
        Some(
            Warning::ThisIsATop10Password
            | Warning::ThisIsATop100Password
            | Warning::ThisIsACommonPassword,
        ) => Weakness::Common,
        Some(w) => Weakness::Guessable(reason(w)),
        None => Weakness::Guessable("短いか、単純な組み合わせです"),
    })
}

/// zxcvbn's warning in Japanese.
fn reason(w: Warning) -> &'static str {
    match w {
        Warning::StraightRowsOfKeysAreEasyToGuess => "キーボードの並び（qwerty など）です",
        Warning::ShortKeyboardPatternsAreEasyToGuess => "キーボード上の短い並びです",
        Warning::RepeatsLikeAaaAreEasyToGuess => "「aaa」のような同じ文字の繰り返しです",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => "「abcabc」のような繰り返しです",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "よく使われるパスワードに似ています",
        Warning::SequencesLikeAbcAreEasyToGuess => "「abc」「1234」のような連続です",
        Warning::RecentYearsAreEasyToGuess => "最近の年を含んでいます",
        Warning::AWordByItselfIsEasyToGuess => "単語ひとつだけです",
        Warning::DatesAreOftenEasyToGuess => "日付を含んでいます",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess => "人名だけです",
        Warning::CommonNamesAndSurnamesAreEasyToGuess => "よくある人名を含んでいます",
        Warning::ThisIsATop10Password
        | Warning::ThisIsATop100Password
        | Warning::ThisIsACommonPassword => "よく使われるパスワードです",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x1_the_bundled_list_holds_common_and_breached_passwords_in_any_case() {
        assert!(list().len() > 19_000, "{}", list().len());
        for pw in [
            "password1",
            "PASSWORD1",
            "1q2w3e4r5t",
            "qwerty123",
            "iloveyou",
        ] {
            assert!(is_common(pw), "{pw}");
        }
        assert!(!is_common("Tsushima-lantern-48"));
        // On the list although the estimator alone would let it pass.
        assert!(is_common("Fqrg7cs493"));
        assert!(zxcvbn::zxcvbn("Fqrg7cs493", &[]).score() >= zxcvbn::Score::Three);
        assert!(!is_common(""));
    }

    #[test]
    fn x1_common_passwords_are_refused_before_the_estimator_runs() {
        assert_eq!(weakness("password1", &[], 3), Some(Weakness::Common));
        assert_eq!(weakness("Password1", &[], 0), Some(Weakness::Common));
    }

    #[test]
    fn x1_the_login_id_name_and_service_words_count_against_a_password() {
        let login = "tanaka-clinic";
        assert!(weakness("Tanaka-clinic2026", &[], 3).is_none());
        assert_eq!(
            weakness("Tanaka-clinic2026", &[login, "田中 花子"], 3),
            Some(Weakness::Guessable(
                "ログインID・氏名・サービス名などを含んでいます"
            ))
        );
        assert!(matches!(
            weakness("Rainbownet2026", &[], 3),
            Some(Weakness::Guessable(_))
        ));
    }

    #[test]
    fn x1_guessable_passwords_get_a_japanese_reason_and_strong_ones_pass() {
        for pw in ["qwertyuiop1", "aaaaaaaa1", "abcdefgh123"] {
            let w = weakness(pw, &[], 3);
            assert!(w.is_some(), "{pw} should be refused");
        }
        let Some(Weakness::Guessable(r)) = weakness("hjklhjkl9", &[], 3) else {
            panic!("a repeat is guessable");
        };
        assert!(r.contains("繰り返し"), "{r}");
        let Some(Weakness::Guessable(r)) = weakness("poiuytrewq7", &[], 3) else {
            panic!("a keyboard row is guessable");
        };
        assert!(r.contains("よく使われるパスワードに似ています"), "{r}");
        for pw in [
            "Tsushima-lantern-48",
            "Kiyosu2026rainbow",
            "correct horse battery staple",
            "Zx7pQ2mR9k",
        ] {
            assert_eq!(weakness(pw, &["t-sysadmin-1"], 3), None, "{pw}");
        }
    }

    #[test]
    fn x1_min_strength_zero_keeps_only_the_list() {
        assert_eq!(weakness("hjklhjkl9", &[], 0), None);
        assert_eq!(weakness("Fqrg7cs493", &[], 0), Some(Weakness::Common));
    }
}
