//! The configuration copy inside a backup (`config/rainbownet.toml`): the settings in effect
//! (defaults, file and environment together), with every secret replaced by `***` — the password
//! of the database URL, and any key whose name says it holds a secret (`bearer_token` of
//! `[metrics]`, `secret_key` of `[backup.second_target]`, `password` of `[mail]`, any
//! `password` or `token`), so that a key added later is covered without a change here. Empty
//! values stay empty (they show that no secret was set).

use serde_json::Value;

use crate::config::{Settings, redact_url};

const SHOWN: &str = "***";

/// The settings as TOML, secrets replaced.
pub fn config_toml(settings: &Settings) -> anyhow::Result<String> {
    let mut v = serde_json::to_value(settings)?;
    redact(&mut v);
    drop_nulls(&mut v);
    let text = toml::to_string(&v)?;
    Ok(format!(
        "# rainbownet の設定（バックアップ時点、秘密の値は *** に置き換え済み）\n\
         # The settings in effect when the backup was taken; secrets are replaced by ***.\n\n{text}"
    ))
}

/// Whether a key's name says that it holds a secret.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "passphrase", "private"]
        .iter()
        .any(|w| k.contains(w))
}

/// Replaces secrets in a settings tree (pure; see the module's rules).
pub fn redact(v: &mut Value) {
    if let Value::Object(map) = v {
        for (key, value) in map.iter_mut() {
            match value {
                Value::String(s) if key == "url" => *s = redact_url(s),
                Value::String(s) if is_secret_key(key) && !s.is_empty() => *s = SHOWN.into(),
                Value::Array(items) if is_secret_key(key) => {
                    for item in items.iter_mut() {
                        *item = Value::String(SHOWN.into());
                    }
                }
                _ => redact(value),
            }
        }
    }
}

/// TOML has no null: a key without a value is left out.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_copy_keeps_no_secret() {
        let mut s = Settings::default();
        s.database.url = "postgres://rn:db-pass-1@db.example:5432/rn".into();
        s.metrics.bearer_token = "metrics-token-2".into();
        s.sections.insert(
            "backup".into(),
            serde_json::json!({
                "recipients": ["age1public"],
                "second_target": {"kind": "s3", "access_key": "AKIA", "secret_key": "s3-secret-3"},
            }),
        );
        s.mail.password = "mail-pw-4".into();
        s.mail.username = "rn-mailer".into();
        let text = config_toml(&s).expect("toml");
        for secret in ["db-pass-1", "metrics-token-2", "s3-secret-3", "mail-pw-4"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(
            text.contains("postgres://rn:***@db.example:5432/rn"),
            "{text}"
        );
        assert!(text.contains("age1public"), "public keys are not secrets");
        assert!(text.contains("AKIA"), "an access key id is not a secret");
        assert!(
            text.contains("rn-mailer"),
            "the SMTP user name is not a secret"
        );
        // The copy is TOML that reads back as settings.
        let back: toml::Value = toml::from_str(&text).expect("parses");
        assert_eq!(back["metrics"]["bearer_token"].as_str(), Some("***"));
        assert_eq!(back["mail"]["password"].as_str(), Some("***"));
    }

    #[test]
    fn an_empty_secret_stays_empty() {
        let text = config_toml(&Settings::default()).expect("toml");
        assert!(text.contains("bearer_token = \"\""), "{text}");
    }
}
