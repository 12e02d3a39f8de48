//! Finds every audit action code written anywhere in `src/` and checks that it has a label.
//!
//! Three ways a code reaches `audit::record` / `audit::Event`:
//! 1. a literal in the action argument (also inside an `if`/`match` there);
//! 2. a variable or constant set elsewhere (`log_read(…, "records.document_read", …)`,
//!    `const ACCESS_DENIED`): every literal in `src/` shaped like a code with a prefix from (1)
//!    counts, except the few names that are not actions ([`NOT_ACTIONS`]: jobs and mail sources);
//! 3. `format!`: each template must be listed in [`TEMPLATES`] with what it expands to.

use std::collections::BTreeSet;
use std::path::Path;

/// Literals shaped like action codes that name something else (a job, a mail source, a file).
const NOT_ACTIONS: &[&str] = &[
    "audit.verify",
    "backup.copy",
    "backup.drill",
    "backup.key",
    "backup.prune",
    "backup.scheduled",
    "firewall.ingest",
    "firewall.review",
    "incident.contact",
    "mail.send",
    "mail.test",
    "monitor.alert",
    "monitor.rollup",
    "monitor.scheduler",
];

/// `format!` templates of action codes and every code each can produce.
const TEMPLATES: &[(&str, &[&str])] = &[
    (
        "helpdesk.{kind}_added",
        &[
            "helpdesk.response_added",
            "helpdesk.requester_added",
            "helpdesk.correction_added",
        ],
    ),
    (
        "portal.change_request_{}",
        &[
            "portal.change_request_submitted",
            "portal.change_request_in_progress",
            "portal.change_request_consulting",
            "portal.change_request_agreed",
            "portal.change_request_done",
        ],
    ),
    (
        "portal.{}_{verb}",
        &[
            "portal.announcement_created",
            "portal.announcement_updated",
            "portal.announcement_restored",
            "portal.runbook_created",
            "portal.runbook_updated",
            "portal.runbook_restored",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).expect("read file");
            out.push((p.display().to_string(), text));
        }
    }
}

/// The top-level arguments of the call whose `(` is at `open`.
fn arguments(s: &str, open: usize) -> Vec<String> {
    let (mut depth, mut cur, mut out, mut in_str, mut esc) =
        (0, String::new(), vec![], false, false);
    for c in s[open..].chars() {
        if in_str {
            cur.push(c);
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
            '"' => {
                in_str = true;
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > 1 {
                    cur.push(c);
                }
            }
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    out.push(cur.trim().to_string());
                    return out;
                }
                cur.push(c);
            }
            ',' if depth == 1 => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out
}

fn literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Character literals of a quote would pair the quotes wrongly.
    let s = s.replace("'\"'", "").replace("'\\\"'", "");
    let mut rest = s.as_str();
    while let Some(i) = rest.find('"') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('"') else { break };
        out.push(after[..j].to_string());
        rest = &after[j + 1..];
    }
    out
}

fn is_code(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: &str| {
        !p.is_empty()
            && p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    };
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if ok(a) && ok(b))
}

/// Every action code the product writes.
fn written_codes() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut codes = BTreeSet::new();
    let mut templates = BTreeSet::new();
    for (path, text) in &files {
        let mut actions = Vec::new();
        // Inside the core itself the function is called without its module's name.
        let call = if path.ends_with("src/audit/mod.rs") {
            "\n    record("
        } else {
            "audit::record("
        };
        for (i, _) in text.match_indices(call) {
            let args = arguments(text, i + call.len() - 1);
            actions.push(args.get(3).cloned().unwrap_or_default());
        }
        for (i, _) in text.match_indices("audit::Event {") {
            let body = &text[i..(i + 600).min(text.len())];
            if let Some(a) = body.find("action:") {
                let v = &body[a + 7..];
                actions.push(v[..v.find(',').unwrap_or(v.len())].to_string());
            }
        }
        for a in actions {
            let is_const = !a.is_empty() && a.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            if is_const {
                let decl = format!("const {a}: &str = ");
                let value = files
                    .iter()
                    .find_map(|(_, t)| t.find(&decl).map(|i| literals(&t[i..]).remove(0)));
                codes.extend(value);
            } else if let Some(f) = a.strip_prefix("&format!(") {
                let t = literals(f).into_iter().next().unwrap_or_default();
                let known = TEMPLATES.iter().find(|(k, _)| *k == t);
                let (_, expands) = known.unwrap_or_else(|| {
                    panic!("{path}: the action template {t:?} is not in TEMPLATES")
                });
                codes.extend(expands.iter().map(|c| c.to_string()));
                templates.insert(t);
            } else {
                codes.extend(literals(&a).into_iter().filter(|l| is_code(l)));
            }
        }
    }
    let prefixes: BTreeSet<String> = codes
        .iter()
        .filter_map(|c| c.split('.').next().map(str::to_string))
        .collect();
    for (_, text) in &files {
        for l in literals(text) {
            let prefix = l.split('.').next().unwrap_or_default();
            if is_code(&l) && prefixes.contains(prefix) && !NOT_ACTIONS.contains(&l.as_str()) {
                codes.insert(l);
            }
        }
    }
    assert_eq!(
        templates.len(),
        TEMPLATES.len(),
        "a template is no longer used"
    );
    codes
}

#[test]
fn x4_issue15_every_audit_action_written_in_src_has_a_label() {
    let codes = written_codes();
    // The scan itself must see the three ways (a literal, a constant, a template).
    for seen in [
        "auth.password_changed",
        "access.denied",
        "records.document_read",
        "helpdesk.response_added",
    ] {
        assert!(codes.contains(seen), "the scan missed {seen}");
    }
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| super::ACTIONS.iter().all(|(k, _)| k != c))
        .collect();
    assert!(
        missing.is_empty(),
        "audit actions without a Japanese label in audit_ui::labels::ACTIONS: {missing:?}"
    );
}
