//! Passwords: argon2id hashes (OWASP parameters), and the policy for passwords people choose
//! (length, letters and digits, not the log-in ID, and — `auth::strength` — not on the list of
//! common and breached passwords nor guessable by the estimator; ASVS 2.1.7). The one-time
//! passwords the system issues (`credentials`) are not put through the policy.
//! A password value never appears in `Debug` output or logs.
//!
//! A hash or verification costs ~20 ms of CPU. Request paths use the `_async` forms: they run on
//! tokio's blocking pool, at most [`hash_slots`] (half the cores) at a time (the rest wait for a
//! slot without holding a thread), so that log-ins never stall the async workers and a flood of
//! wrong passwords cannot take more than half the CPU. Callers hash and verify before they open a
//! transaction, never inside one: on SQLite a transaction holds the one writer lock.

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::PasswordSettings;

/// A password in clear, only while it is being checked or hashed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP: m=19 MiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

pub fn verify(password: &Password, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, so that an unknown log-in ID cannot be told
/// from a wrong password by timing.
pub fn verify_dummy(password: &Password) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash(&Password::new("dummy-password-0")).unwrap_or_default());
    let _ = verify(password, stored);
}

/// How many password hashes may run at once: half the cores (at least one). A flood of log-ins
/// (wrong passwords cost as much as right ones) then leaves the other half to everything else —
/// measured on 2 cores: one slot keeps FHIR intake at about half its rate under 20 clients posting
/// wrong passwords, two slots cut it to 0.3–0.45 (README, benchmark). Log-ins queue fairly.
pub fn hash_slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}

/// Slots for password work, for the whole process (the cores are the process's).
fn slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(hash_slots()))
}

/// Runs `work` on the blocking pool once a slot is free. The slot goes with the work, so it is
/// held until the work ends even if the caller stops waiting. Other CPU-heavy work that should
/// not crowd out request handling may use the same slots.
pub async fn in_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let slot = slots()
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("password slots: {e}"))?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
    .await
    .map_err(|e| anyhow::anyhow!("password worker: {e}"))
}

/// [`hash`] off the async workers (see the module docs).
pub async fn hash_async(password: &Password) -> anyhow::Result<String> {
    let password = password.clone();
    in_slot(move || hash(&password)).await?
}

/// [`verify`] off the async workers; a failure of the worker counts as a wrong password.
pub async fn verify_async(password: &Password, stored: &str) -> bool {
    let (password, stored) = (password.clone(), stored.to_string());
    match in_slot(move || verify(&password, &stored)).await {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!("password verification failed to run: {e:#}");
            false
        }
    }
}

/// [`verify_dummy`] off the async workers.
pub async fn verify_dummy_async(password: &Password) {
    let password = password.clone();
    if let Err(e) = in_slot(move || verify_dummy(&password)).await {
        tracing::error!("dummy verification failed to run: {e:#}");
    }
}

/// Why a chosen password was refused; the message is shown next to the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("パスワードは{0}文字以上にしてください。")]
    TooShort(usize),
    #[error("パスワードは{0}文字以下にしてください。")]
    TooLong(usize),
    #[error("パスワードには英字と数字の両方を含めてください。")]
    NeedsLetterAndDigit,
    #[error("ログインIDと同じパスワードは使えません。")]
    SameAsLoginId,
    #[error("現在のパスワードと異なるパスワードを設定してください。")]
    SameAsCurrent,
    #[error("確認用のパスワードが一致しません。")]
    ConfirmationMismatch,
    #[error("よく使われるパスワード（流出したパスワードの一覧に載っているもの）のため使えません。")]
    Common,
    #[error(
        "推測されやすいパスワードです（{0}）。関係のない単語をいくつか組み合わせるなど、長く推測しにくいものにしてください。"
    )]
    Guessable(&'static str),
}

/// Checks a new password against the configured policy. `personal` are the person's other words
/// (the name) that, like the log-in ID, count against the password.
pub fn check_policy(
    policy: &PasswordSettings,
    login_id: &str,
    personal: &[&str],
    new: &str,
    confirmation: &str,
) -> Result<(), PolicyError> {
    let len = new.chars().count();
    if len < policy.min_length {
        return Err(PolicyError::TooShort(policy.min_length));
    }
    if len > policy.max_length {
        return Err(PolicyError::TooLong(policy.max_length));
    }
    if policy.require_letter_and_digit
        && !(new.chars().any(|c| c.is_alphabetic()) && new.chars().any(|c| c.is_ascii_digit()))
    {
        return Err(PolicyError::NeedsLetterAndDigit);
    }
    if new.eq_ignore_ascii_case(login_id) {
        return Err(PolicyError::SameAsLoginId);
    }
    if new != confirmation {
        return Err(PolicyError::ConfirmationMismatch);
    }
    let words: Vec<&str> = std::iter::once(login_id)
        .chain(personal.iter().copied())
        .collect();
    match super::strength::weakness(new, &words, policy.min_strength) {
        None => Ok(()),
        Some(super::strength::Weakness::Common) => Err(PolicyError::Common),
        Some(super::strength::Weakness::Guessable(why)) => Err(PolicyError::Guessable(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let h = hash(&Password::new("correct horse 1")).expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&Password::new("correct horse 1"), &h));
        assert!(!verify(&Password::new("correct horse 2"), &h));
        assert!(!verify(&Password::new("x"), "not a hash"));
    }

    #[test]
    fn the_policy_asks_for_eight_characters_with_letters_and_digits() {
        let p = PasswordSettings::default();
        assert_eq!(
            check_policy(&p, "u1", &[], "abc123", "abc123"),
            Err(PolicyError::TooShort(8))
        );
        assert_eq!(
            check_policy(&p, "u1", &[], "abcdefgh", "abcdefgh"),
            Err(PolicyError::NeedsLetterAndDigit)
        );
        assert_eq!(
            check_policy(&p, "u1", &[], "abcd1234", "abcd1235"),
            Err(PolicyError::ConfirmationMismatch)
        );
        assert_eq!(
            check_policy(&p, "abcd1234", &[], "ABCD1234", "ABCD1234"),
            Err(PolicyError::SameAsLoginId)
        );
        let strong = "Tsushima-lantern-48";
        assert_eq!(check_policy(&p, "u1", &[], strong, strong), Ok(()));
    }

    #[test]
    fn x1_common_and_guessable_new_passwords_are_refused_with_a_japanese_reason() {
        let p = PasswordSettings::default();
        let refused = check_policy(&p, "u1", &[], "password1", "password1");
        assert_eq!(refused, Err(PolicyError::Common));
        let text = refused.expect_err("refused").to_string();
        assert!(text.contains("よく使われるパスワード"), "{text}");
        let login = "yamada-taro";
        let e = check_policy(&p, login, &["山田 太郎"], "Yamada-taro26", "Yamada-taro26")
            .expect_err("the log-in ID counts against the password");
        assert!(matches!(e, PolicyError::Guessable(_)), "{e:?}");
        assert!(
            e.to_string().starts_with("推測されやすいパスワードです（"),
            "{e}"
        );
        let lax = PasswordSettings {
            min_strength: 0,
            ..PasswordSettings::default()
        };
        assert_eq!(
            check_policy(&lax, login, &[], "Yamada-taro26", "Yamada-taro26"),
            Ok(())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_async_forms_agree_with_the_sync_ones() {
        let h = hash_async(&Password::new("correct horse 1"))
            .await
            .expect("hash");
        assert!(verify(&Password::new("correct horse 1"), &h));
        assert!(verify_async(&Password::new("correct horse 1"), &h).await);
        assert!(!verify_async(&Password::new("correct horse 2"), &h).await);
        verify_dummy_async(&Password::new("x")).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_password_jobs_run_at_once_than_half_the_cores() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cores = hash_slots();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..4 * cores + 2)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(in_slot(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("ran");
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= cores,
            "{most} at once with {cores} slots"
        );
    }

    #[test]
    fn a_password_is_never_printed() {
        assert_eq!(format!("{:?}", Password::new("secret")), "Password(***)");
    }
}
