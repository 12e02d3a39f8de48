//! Translates an HTML page with the catalogue, through lol_html (a streaming rewriter: no hand
//! parsing). Every text node and the attributes people read (`title`, `placeholder`,
//! `aria-label`, `alt`, the `value` of a submit or button input) that contain Japanese are
//! looked up; what the catalogue does not know (names, facility names, inquiry text as
//! entered) stays as it is and is counted. `<html lang="ja">` becomes `lang="en"`.

use std::cell::RefCell;

use lol_html::html_content::{ContentType, TextType};
use lol_html::{RewriteStrSettings, doc_text, element, rewrite_str};

use super::catalogue::{Catalogue, fold_punctuation, has_japanese, normalise};

/// Attributes whose text a person reads.
const ATTRIBUTES: &[&str] = &["title", "placeholder", "aria-label", "alt", "label"];

/// Text kept in Japanese on purpose: the language switch names Japanese in Japanese.
const KEEP: &[&str] = &["日本語"];

/// A page in English, and the Japanese texts the catalogue did not know.
pub struct Translated {
    pub html: String,
    pub untranslated: Vec<String>,
}

pub fn translate_html(html: &str, catalogue: &Catalogue) -> Result<Translated, String> {
    let missed = RefCell::new(Vec::<String>::new());
    let buffer = RefCell::new(String::new());
    let lookup = |raw: &str| -> Option<String> {
        if !has_japanese(raw) {
            return None;
        }
        let text = decode(raw);
        if KEEP.contains(&text.trim()) {
            return None;
        }
        let en = catalogue
            .translate(&text)
            .or_else(|| fold_punctuation(&text));
        if en.is_none() {
            missed.borrow_mut().push(normalise(&text));
        }
        en
    };
    let settings = RewriteStrSettings::new()
        .append_element_content_handler(element!("html[lang]", |el| {
            el.set_attribute("lang", "en")?;
            Ok(())
        }))
        .append_element_content_handler(element!("*", |el| {
            let mut names: Vec<&str> = ATTRIBUTES.to_vec();
            let kind = el.get_attribute("type").unwrap_or_default();
            if el.tag_name() == "input" && matches!(kind.as_str(), "submit" | "button") {
                names.push("value");
            }
            for name in names {
                let Some(value) = el.get_attribute(name) else {
                    continue;
                };
                if let Some(en) = lookup(&value) {
                    el.set_attribute(name, &en.replace('&', "&amp;"))?;
                }
            }
            Ok(())
        }))
        .append_document_content_handler(doc_text!(|t| {
            if !matches!(t.text_type(), TextType::Data | TextType::RCData) {
                return Ok(());
            }
            // A text node may come in several chunks: keep them until the last one.
            let mut buf = buffer.borrow_mut();
            buf.push_str(t.as_str());
            if !t.last_in_text_node() {
                t.remove();
                return Ok(());
            }
            let raw = std::mem::take(&mut *buf);
            match lookup(&raw) {
                Some(en) => {
                    let lead = &raw[..raw.len() - raw.trim_start().len()];
                    let trail = &raw[raw.trim_end().len()..];
                    t.replace(&format!("{lead}{en}{trail}"), ContentType::Text);
                }
                None => t.replace(&raw, ContentType::Html),
            }
            Ok(())
        }));
    let html = rewrite_str(html, settings).map_err(|e| e.to_string())?;
    Ok(Translated {
        html,
        untranslated: missed.into_inner(),
    })
}

/// The entities askama writes (and the few written by hand in templates).
fn decode(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_string();
    }
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::new(
            "menu = メニュー\nlogout = ログアウト\nsearch = 検索語\ncount = { $n } 件\nfoot = 清須市 ｜ ヘルプデスク\n",
            "menu = Menu\nlogout = Log out\nsearch = Search terms\ncount = { $n } items\nfoot = Kiyosu City | Help desk\n",
        )
    }

    #[test]
    fn text_nodes_and_readable_attributes_are_translated_and_data_stays() {
        let html = "<!doctype html><html lang=\"ja\"><body><nav aria-label=\"メニュー\"><b> メニュー </b></nav>\
            <input type=\"submit\" value=\"ログアウト\"><input name=\"q\" value=\"ログアウト\" placeholder=\"検索語\">\
            <p>3 件</p><td>山田 &amp; 鈴木</td><footer>\n  清須市 ｜\n ヘルプデスク\n</footer></body></html>";
        let t = translate_html(html, &catalogue()).expect("rewrite");
        assert!(t.html.contains("<html lang=\"en\">"), "{}", t.html);
        assert!(t.html.contains("aria-label=\"Menu\""));
        assert!(t.html.contains("<b> Menu </b>"), "white space around stays");
        assert!(t.html.contains("type=\"submit\" value=\"Log out\""));
        assert!(
            t.html.contains("name=\"q\" value=\"ログアウト\""),
            "a text field's value is data"
        );
        assert!(t.html.contains("placeholder=\"Search terms\""));
        assert!(t.html.contains("<p>3 items</p>"));
        assert!(t.html.contains("<td>山田 &amp; 鈴木</td>"), "{}", t.html);
        assert!(t.html.contains("Kiyosu City | Help desk"));
        assert_eq!(t.untranslated, vec!["山田 & 鈴木".to_string()]);
    }

    #[test]
    fn japanese_is_recognised_in_every_script() {
        assert!(has_japanese("ひらがな"));
        assert!(has_japanese("カタカナ"));
        assert!(has_japanese("漢字"));
        assert!(has_japanese("A（B）"));
        assert!(!has_japanese("Plain text – 1,234 × 5"));
    }
}
