//! Finds every key of a `json!({…})` object in `src/` and checks that it has a label in
//! [`super::FIELDS`]: details are built as `json!` objects, in the call, just before it or in a
//! helper of another file (the audit chain's own events, attachments' details), and a key without
//! a label would show raw on the audit pages. Every file is read, not only those that name
//! `audit::`; two kinds of object are left out because they never are details: FHIR resources
//! (an object with `"resourceType"`) and the unit tests at a file's end.

use std::collections::BTreeSet;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).expect("read file");
            // Unit tests (the `mod tests` at the end of a file) build objects no event carries.
            let code = match text.find("#[cfg(test)]\nmod tests {") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.push(code);
        }
    }
}

/// The text of the object whose `{` is at `open`, strings skipped over.
fn object(s: &str, open: usize) -> &str {
    let (mut depth, mut in_str, mut esc) = (0, false, false);
    for (i, c) in s[open..].char_indices() {
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[open..open + i + 1];
                }
            }
            _ => {}
        }
    }
    &s[open..]
}

/// `"key":` inside an object (nested objects too).
fn keys(obj: &str, out: &mut BTreeSet<String>) {
    let mut rest = obj;
    while let Some(i) = rest.find('"') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('"') else { break };
        let word = &after[..j];
        let tail = after[j + 1..].trim_start();
        let is_key = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_key && tail.starts_with(':') && !tail.starts_with("::") {
            out.insert(word.to_string());
        }
        rest = &after[j + 1..];
    }
}

/// Every key of a `json!` object in `src/`, FHIR resources left out.
fn written_keys() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut out = BTreeSet::new();
    for text in &files {
        for (i, _) in text.match_indices("json!(") {
            let after = &text[i + 6..];
            if after.trim_start().starts_with('{') {
                let open = i + 6 + after.find('{').unwrap_or(0);
                let obj = object(text, open);
                if !obj.contains("\"resourceType\"") {
                    keys(obj, &mut out);
                }
            }
        }
    }
    out
}

#[test]
fn x4_issue15_every_detail_key_written_in_src_has_a_label() {
    let keys = written_keys();
    // The scan must see keys of details written in the call, before it, and in a file that does
    // not name `audit::` (the chain's own check, an attachment's details).
    for seen in [
        "was_one_time",
        "other_sessions_ended",
        "searched",
        "reason",
        "anchors_checked",
        "extension",
    ] {
        assert!(keys.contains(seen), "the scan missed {seen}");
    }
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| {
            super::FIELDS
                .binary_search_by(|(f, _)| f.cmp(&k.as_str()))
                .is_err()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "detail keys without a Japanese label in audit_ui::fields::FIELDS: {missing:?}"
    );
}
