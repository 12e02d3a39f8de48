//! The message catalogue: `locales/ja.ftl` (the source) and `locales/en.ftl`, with the same
//! message ids. Japanese messages are indexed by their text, once: a message without variables
//! by its whitespace-normalised text (a hash map), a message with variables as an anchored
//! regex whose groups capture the variables, which are passed on to the English message.

use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use regex::Regex;

pub const JA_SOURCE: &str = include_str!("../../locales/ja.ftl");
pub const EN_SOURCE: &str = include_str!("../../locales/en.ftl");

/// The catalogue, built on first use (a broken catalogue fails the unit tests, not a request:
/// a message that does not parse is left out and the page keeps its Japanese text).
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| Catalogue::new(JA_SOURCE, EN_SOURCE));
    &CATALOGUE
}

struct Pattern {
    /// The same pattern with lazy and with greedy variables: a text may be cut either way
    /// ("{ $at } { $kind }" on "2026-11-30 02:00 日次" needs the greedy one).
    regex: [Regex; 2],
    vars: Vec<String>,
    id: String,
}

pub struct Catalogue {
    exact: HashMap<String, String>,
    patterns: Vec<Pattern>,
    en: FluentBundle<FluentResource>,
}

/// One Japanese message: its id and its pattern as literal text and variable names in order.
#[derive(Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Var(String),
}

/// The messages of a Fluent file, each as its id and pieces (selectors and terms are not used
/// in the Japanese source; a message with them is skipped).
pub fn messages(source: &str) -> Vec<(String, Vec<Piece>)> {
    let res = match FluentResource::try_new(source.to_string()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::warn!(?errors, "catalogue has syntax errors");
            r
        }
    };
    let mut out = Vec::new();
    for entry in res.entries() {
        let ast::Entry::Message(m) = entry else {
            continue;
        };
        let Some(value) = &m.value else { continue };
        let mut pieces = Vec::new();
        let mut simple = true;
        for el in &value.elements {
            match el {
                ast::PatternElement::TextElement { value } => {
                    pieces.push(Piece::Text((*value).to_string()))
                }
                ast::PatternElement::Placeable {
                    expression:
                        ast::Expression::Inline(ast::InlineExpression::VariableReference { id }),
                } => pieces.push(Piece::Var(id.name.to_string())),
                ast::PatternElement::Placeable {
                    expression:
                        ast::Expression::Inline(ast::InlineExpression::StringLiteral { value }),
                } => pieces.push(Piece::Text((*value).to_string())),
                _ => simple = false,
            }
        }
        if simple {
            out.push((m.id.name.to_string(), pieces));
        }
    }
    out
}

/// Whether a text contains Japanese (Hiragana, Katakana, CJK ideographs, CJK punctuation or
/// full-width forms).
pub fn has_japanese(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c as u32,
            0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
    })
}

/// Data between Japanese punctuation (a list joined with "、", a name in "（）"): the text with
/// ASCII punctuation, if nothing else Japanese is left.
pub fn fold_punctuation(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '（' => out.push_str(" ("),
            '）' => out.push(')'),
            '、' | '，' => out.push_str(", "),
            '：' => out.push_str(": "),
            '／' => out.push_str(" / "),
            '〜' | '～' => out.push_str(" – "),
            '｜' => out.push_str(" | "),
            '　' => out.push(' '),
            '「' | '」' | '『' | '』' => out.push('"'),
            '［' | '【' => out.push('['),
            '］' | '】' => out.push(']'),
            '。' => out.push('.'),
            '・' => out.push_str(", "),
            c => out.push(c),
        }
    }
    let out = normalise(&out)
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",");
    (!has_japanese(&out)).then_some(out)
}

/// Text as it is compared: trimmed, every run of white space one space.
pub fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Catalogue {
    pub fn new(ja: &str, en: &str) -> Catalogue {
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        for (id, pieces) in messages(ja) {
            if pieces.iter().all(|p| matches!(p, Piece::Text(_))) {
                let text: String = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => t.as_str(),
                        Piece::Var(_) => "",
                    })
                    .collect();
                exact.insert(normalise(&text), id);
                continue;
            }
            let mut re = String::from("^");
            let mut greedy = String::from("^");
            let mut vars = Vec::new();
            for p in &pieces {
                match p {
                    Piece::Text(t) => {
                        let t = normalise(&format!("\u{1}{t}\u{1}"));
                        let t = t.trim_matches('\u{1}');
                        let lit = regex::escape(t).replace(' ', r"\s+");
                        re.push_str(&lit);
                        greedy.push_str(&lit);
                    }
                    Piece::Var(v) => {
                        re.push_str("(.*?)");
                        greedy.push_str("(.*)");
                        vars.push(v.clone());
                    }
                }
            }
            re.push('$');
            greedy.push('$');
            match (Regex::new(&re), Regex::new(&greedy)) {
                (Ok(lazy), Ok(greedy)) => patterns.push(Pattern {
                    regex: [lazy, greedy],
                    vars,
                    id,
                }),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(%id, %e, "catalogue pattern does not compile")
                }
            }
        }
        // The most literal text first: "{ $n } 件中" wins over "{ $x }件".
        patterns.sort_by_key(|p| std::cmp::Reverse(p.regex[0].as_str().len() - 5 * p.vars.len()));
        let mut bundle =
            FluentBundle::new_concurrent(vec![unic_langid::LanguageIdentifier::default()]);
        bundle.set_use_isolating(false);
        let res = FluentResource::try_new(en.to_string()).unwrap_or_else(|(r, errors)| {
            tracing::warn!(?errors, "English catalogue has syntax errors");
            r
        });
        if let Err(errors) = bundle.add_resource(res) {
            tracing::warn!(?errors, "English catalogue has duplicate messages");
        }
        Catalogue {
            exact,
            patterns,
            en: bundle,
        }
    }

    /// The English text of a Japanese text (compared trimmed and whitespace-normalised), or
    /// `None` when the catalogue does not know it.
    pub fn translate(&self, ja: &str) -> Option<String> {
        let key = normalise(ja);
        if let Some(id) = self.exact.get(&key) {
            return self.format(id, None);
        }
        let tries = self
            .patterns
            .iter()
            .flat_map(|p| p.regex.iter().map(move |r| (p, r)));
        'patterns: for (p, regex) in tries {
            let Some(caps) = regex.captures(&key) else {
                continue;
            };
            let mut args = FluentArgs::new();
            for (i, name) in p.vars.iter().enumerate() {
                let v = caps.get(i + 1).map_or("", |m| m.as_str()).trim();
                // A plain count is a number (English plurals select on it); Japanese text must
                // itself be in the catalogue, else this pattern cut the text in the wrong place
                // and the next one is tried; other text (data) stays as it is.
                let value = match v.parse::<i64>() {
                    Ok(n) if n.to_string() == v => FluentValue::from(n),
                    _ if has_japanese(v) => {
                        match self.translate(v).or_else(|| fold_punctuation(v)) {
                            Some(en) => FluentValue::from(en),
                            None => continue 'patterns,
                        }
                    }
                    _ => FluentValue::from(v.to_string()),
                };
                args.set(name.clone(), value);
            }
            return self.format(&p.id, Some(&args));
        }
        None
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> Option<String> {
        let msg = self.en.get_message(id)?;
        let pattern = msg.value()?;
        let mut errors = Vec::new();
        let text = self.en.format_pattern(pattern, args, &mut errors);
        errors.is_empty().then(|| text.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JA: &str = "menu = メニュー\nlist-count = { $total } 件中 { $from }–{ $to } 件\nrole-admin = システム管理者\nhello = { $name } さん（{ $role }）\n";
    const EN: &str = "menu = Menu\nlist-count = { $from }–{ $to } of { $total }\nrole-admin = System administrator\nhello = { $name } ({ $role })\n";

    #[test]
    fn exact_text_is_found_trimmed_and_with_its_white_space_normalised() {
        let c = Catalogue::new(JA, EN);
        assert_eq!(c.translate("  メニュー\n ").as_deref(), Some("Menu"));
        assert_eq!(c.translate("不明"), None);
    }

    #[test]
    fn variables_are_captured_and_passed_to_the_english_message() {
        let c = Catalogue::new(JA, EN);
        assert_eq!(
            c.translate("120 件中 1–50 件").as_deref(),
            Some("1–50 of 120")
        );
        assert_eq!(
            c.translate("Taro さん（システム管理者）").as_deref(),
            Some("Taro (System administrator)"),
            "a captured Japanese value is translated too"
        );
    }

    #[test]
    fn a_pattern_that_cuts_the_text_in_the_wrong_place_is_not_used() {
        let c = Catalogue::new(
            "next = 次回：{ $at } { $kind }\ndaily = 日次\nsort = 操作{ $mark }\n",
            "next = Next: { $at } { $kind }\ndaily = Daily\nsort = Action{ $mark }\n",
        );
        assert_eq!(
            c.translate("次回：2026-11-30 02:00 日次").as_deref(),
            Some("Next: 2026-11-30 02:00 Daily"),
            "the greedy cut, after the lazy one left Japanese in a variable"
        );
        assert_eq!(c.translate("操作のないまま"), None, "no 'Actionのないまま'");
    }

    #[test]
    fn data_between_japanese_punctuation_becomes_ascii() {
        assert_eq!(
            fold_punctuation("Kiyosu City（demo-city）、Nishi").as_deref(),
            Some("Kiyosu City (demo-city), Nishi")
        );
        assert_eq!(fold_punctuation("名前（x）"), None);
    }

    #[test]
    fn the_product_catalogue_parses_and_has_no_duplicate_ids() {
        let ja = messages(JA_SOURCE);
        let en = messages(EN_SOURCE);
        assert!(ja.len() > 10, "the Japanese catalogue has messages");
        let mut ids: Vec<&str> = ja.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate ids in ja.ftl");
        assert!(FluentResource::try_new(JA_SOURCE.to_string()).is_ok());
        assert!(FluentResource::try_new(EN_SOURCE.to_string()).is_ok());
        assert!(en.len() >= ja.len());
    }
}
