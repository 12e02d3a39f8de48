//! Japanese words for the details of audit events (issue 15, item 6; X.4): every key the code
//! writes into an event's details, and the code values of `reason`. The scan test
//! `x4_issue15_every_detail_key_written_in_src_has_a_label` finds every key of a `json!` object in
//! `src/` and fails on one without a label here, so no raw key reaches the audit pages.

/// Detail key → label, sorted by key.
pub const FIELDS: &[(&str, &str)] = &[
    ("account_id", "アカウント"),
    ("account_request_id", "利用申請"),
    ("address", "住所"),
    ("after", "変更後"),
    ("alert", "警報"),
    ("all_others", "ほかの全セッション"),
    ("allowed", "許可"),
    ("anchor", "アンカー"),
    ("anchor_file", "アンカーファイル"),
    ("anchors_checked", "照合したアンカー数"),
    ("announcement_id", "お知らせ"),
    ("approved_by", "承認者"),
    ("asset_ref", "資産番号"),
    ("assignee_from", "変更前の担当者"),
    ("assignee_to", "変更後の担当者"),
    ("at", "日時"),
    ("attachment", "添付ファイル"),
    ("attachments", "添付ファイル数"),
    ("attempt", "試行回数"),
    ("audit_head_seq", "監査ログの末尾番号"),
    ("back", "差し戻し"),
    ("backend", "データベースの種類"),
    ("backup_dir", "バックアップの保存場所"),
    ("before", "変更前"),
    ("blobs", "ファイル数"),
    ("broken_id", "異常のあった行"),
    ("bursts", "集中アクセス"),
    ("by", "記録者"),
    ("by_facility_id", "操作した施設"),
    ("by_session_id", "操作したセッション"),
    ("category", "分類"),
    ("cert_min_days", "証明書の残り日数の下限"),
    ("chain", "監査ログの連鎖"),
    ("change", "変更"),
    ("changes", "変更内容"),
    ("channel", "経路"),
    ("chars", "文字数"),
    ("code", "コード"),
    ("codes", "コード数"),
    ("coding", "コード体系"),
    ("comment", "コメント"),
    ("consent_facility", "同意した施設"),
    ("consent_id", "同意"),
    ("consents", "同意"),
    ("contact", "連絡先"),
    ("contact_id", "連絡先"),
    ("content_type", "ファイル形式"),
    ("context", "状況"),
    ("convened", "開催"),
    ("corrects_entry_id", "訂正する記録"),
    ("count", "件数"),
    ("counts", "件数"),
    ("data_dir", "データの保存場所"),
    ("database_url", "データベース"),
    ("day", "日付"),
    ("decision", "判断"),
    ("denied", "拒否"),
    ("description", "説明"),
    ("detail", "詳細"),
    ("diagnostics", "診断"),
    ("direction", "連絡の方向"),
    ("display", "表示名"),
    ("distinct_login_ids", "ログインIDの種類数"),
    ("document_id", "文書"),
    ("document_ids", "文書"),
    ("documentation", "説明文書"),
    ("documents", "文書数"),
    ("due_on", "期限"),
    ("duration_ms", "所要時間（ミリ秒）"),
    ("duration_seconds", "継続時間（秒）"),
    ("email", "メールアドレス"),
    ("ended_at", "終了日時"),
    ("ends_at", "終了"),
    ("entry", "記録"),
    ("entry_id", "記録番号"),
    ("error", "エラー"),
    ("errors", "エラー数"),
    ("expect_status", "期待する応答コード"),
    ("expected_recovery", "復旧見込み"),
    ("expired", "期限切れ"),
    ("expires_at", "有効期限"),
    ("extension", "拡張"),
    ("facilities", "施設"),
    ("facility", "施設"),
    ("facility_id", "施設"),
    ("failures", "失敗回数"),
    ("fax", "FAX"),
    ("field", "項目"),
    ("fields", "項目"),
    ("file_name", "ファイル名"),
    ("files", "ファイル"),
    ("findings", "指摘事項"),
    ("first_at", "最初の日時"),
    ("from", "変更前"),
    ("from_revision", "元の版"),
    ("has_address", "宛先あり"),
    ("hash", "ハッシュ値"),
    ("holder", "保管者"),
    ("id", "番号"),
    ("identifier", "識別子"),
    ("incident_id", "障害"),
    ("interval_seconds", "間隔（秒）"),
    ("into", "統合先"),
    ("issue", "問題"),
    ("job_type", "処理の種類"),
    ("json_pointer", "JSONの位置"),
    ("json_value", "JSONの値"),
    ("kana", "カナ"),
    ("keep_days", "保存日数"),
    ("kept", "保存"),
    ("key", "鍵"),
    ("key_id", "鍵ID"),
    ("key_purposes", "鍵の用途"),
    ("keys_note", "鍵についての注記"),
    ("keyword", "キーワード"),
    ("kind", "種類"),
    ("label", "名称"),
    ("last_at", "最後の日時"),
    ("last_error", "最後のエラー"),
    ("last_seen_at", "最終操作日時"),
    ("late", "遅延"),
    ("late_minutes", "遅れ（分）"),
    ("later_failures", "その後の失敗回数"),
    ("lead_minutes", "所要時間（分）"),
    ("level", "段階"),
    ("limit", "上限"),
    ("linked", "関連付け"),
    ("local_id", "施設内患者ID"),
    ("location", "場所"),
    ("locked_at", "ロック日時"),
    ("locked_or_disabled", "ロック中・無効のアカウント"),
    ("locked_until", "ロック期限"),
    ("login_id", "ログインID"),
    ("login_ids", "ログインID"),
    ("mail_id", "メール"),
    ("mail_off", "メール通知なし"),
    ("mails", "メール数"),
    ("max_response_ms", "応答時間の上限（ミリ秒）"),
    ("means", "連絡手段"),
    ("message", "メッセージ"),
    ("method", "方法"),
    ("migrations", "マイグレーション"),
    ("minutes", "分"),
    ("mode", "方式"),
    ("monitor_id", "監視対象"),
    ("name", "名称"),
    ("network_id", "ネットワーク患者ID"),
    ("new", "新しい値"),
    ("new_session_id", "新しいセッション"),
    ("new_sources", "新しい接続元"),
    ("note", "メモ"),
    ("notification_id", "通知"),
    ("number", "番号"),
    ("ok", "結果"),
    ("old", "以前の値"),
    ("old_session_id", "以前のセッション"),
    ("on", "日付"),
    ("operation", "操作"),
    ("organisation", "組織"),
    ("organization", "組織"),
    ("other_sessions_ended", "ほかのセッションの終了数"),
    ("outcome", "結果"),
    ("owner", "担当者"),
    ("page", "ページ"),
    ("paper_date", "書面の日付"),
    ("parent", "親"),
    ("patient", "患者"),
    ("patient_id", "患者"),
    ("patients", "患者数"),
    ("pending", "未処理"),
    ("period_end", "期間の終了"),
    ("period_start", "期間の開始"),
    ("person", "担当者"),
    ("person_name", "氏名"),
    ("phone", "電話番号"),
    ("pinned", "固定表示"),
    ("prefix", "先頭文字"),
    ("primary", "主な保存先"),
    ("print", "印刷"),
    ("priority_from", "変更前の優先度"),
    ("priority_to", "変更後の優先度"),
    ("provision", "同意の内容"),
    ("public", "公開"),
    ("publish_at", "公開日時"),
    ("purpose", "用途"),
    ("reached_at", "連絡のついた日時"),
    ("reason", "理由"),
    ("recipients", "宛先数"),
    ("recovery_codes", "回復コード"),
    ("reference", "参照"),
    ("reference_no", "整理番号"),
    ("relation", "関係"),
    ("remarks", "所見"),
    ("replaced_account_id", "置き換えたアカウント"),
    ("report_id", "報告"),
    ("requester", "依頼者"),
    ("resealed", "再暗号化"),
    ("resource", "リソース"),
    ("response", "応答"),
    ("result", "結果"),
    ("retries", "再試行回数"),
    ("review_id", "保留文書"),
    ("revision", "版"),
    ("role", "役割"),
    ("route", "画面"),
    ("rows", "件数"),
    ("scan_sha256", "スキャンのハッシュ値"),
    ("scans", "スキャン"),
    ("schedule", "予定"),
    ("scope", "範囲"),
    ("sealed_clear", "平文の暗号化"),
    ("search", "検索"),
    ("searched", "検索条件"),
    ("second", "第二の保存先"),
    ("second_keep_days", "第二の保存先の保存日数"),
    ("second_target", "第二の保存先"),
    ("seconds", "秒数"),
    ("services", "サービス"),
    ("session_id", "セッション"),
    ("sessions_ended", "終了したセッション数"),
    ("severity", "重大度"),
    ("sha256", "ハッシュ値（SHA-256）"),
    ("signed_on", "署名日"),
    ("size", "サイズ"),
    ("size_bytes", "サイズ（バイト）"),
    ("slot", "枠"),
    ("slots", "枠"),
    ("software_version", "ソフトウェアの版"),
    ("source", "発生元"),
    ("source_ref", "発生元の参照"),
    ("started_at", "開始日時"),
    ("starts_at", "開始"),
    ("status", "状態"),
    ("status_from", "変更前の状態"),
    ("status_to", "変更後の状態"),
    ("stop_service", "サービスの停止"),
    ("subject", "件名"),
    ("summary", "概要"),
    ("suppressed_by", "抑止した警報"),
    ("swapped_with", "入れ替えた相手"),
    ("system", "体系"),
    ("taken_at", "取得日時"),
    ("target", "保存先"),
    ("target_account_id", "対象アカウント"),
    ("text", "本文"),
    ("throttled", "制限"),
    ("timeout_ms", "タイムアウト（ミリ秒）"),
    ("title", "件名"),
    ("to", "変更後"),
    ("total", "件数"),
    ("trigger", "きっかけ"),
    ("turnaround_seconds", "処理時間（秒）"),
    ("type", "種類"),
    ("unknown_id", "存在しないID"),
    ("unreadable", "読めない"),
    ("unsealed", "封印前の行数"),
    ("until", "まで"),
    ("url", "URL"),
    ("value", "値"),
    ("verified", "検証済み"),
    ("version", "版"),
    ("was_one_time", "一時パスワードだった"),
    ("when", "日時"),
    ("why", "理由"),
    ("window_end", "終了"),
    ("window_minutes", "作業時間（分）"),
    ("window_start", "開始"),
    ("wrong_password", "パスワード誤り"),
];

/// The label of a detail key; an unknown key (written by an older version) shows as it is.
pub fn field(key: &str) -> String {
    FIELDS
        .binary_search_by(|(k, _)| k.cmp(&key))
        .map(|i| FIELDS[i].1.to_string())
        .unwrap_or_else(|_| key.to_string())
}

/// Values of `field` and `fields`: the fields a person corrected (incidents, with the labels of
/// the edit form, `incidents::model::EDITABLE`) or a check compared (a sent patient against the
/// registered one, `records::patient_match::Field`). A unit test keeps both in step.
pub const FIELD_NAMES: &[(&str, &str)] = &[
    ("action_taken", "処置"),
    ("affected_services", "影響を受けたサービス"),
    ("affects_users", "利用者への影響"),
    ("birth_date", "生年月日"),
    ("cause", "原因"),
    ("cause_category", "原因区分"),
    ("description", "障害内容"),
    ("discovered_at", "発見日時"),
    ("discovered_where", "発見箇所"),
    ("facilities", "影響を受けた施設"),
    ("gender", "性別"),
    ("impact", "影響範囲"),
    ("kana", "フリガナ"),
    ("name", "氏名"),
    ("occurred_at", "発生日時"),
    ("recovered_at", "復旧日時"),
    ("remarks", "備考"),
    ("severity", "重大度"),
    ("title", "件名"),
];

/// The label of a field named in a `field`/`fields` value; an unknown name shows as it is.
pub fn field_name(name: &str) -> String {
    let name = name.trim();
    FIELD_NAMES
        .binary_search_by(|(k, _)| k.cmp(&name))
        .map(|i| FIELD_NAMES[i].1.to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// Code values of `reason` (sessions ended, log-ins refused, codes invalidated) → words.
pub const REASONS: &[(&str, &str)] = &[
    ("absolute_timeout", "最大継続時間"),
    ("account_disabled", "アカウント無効化"),
    ("disabled", "アカウント無効化"),
    ("ended_by_user", "本人が終了"),
    ("idle_timeout", "無操作タイムアウト"),
    ("locked", "ロック"),
    ("logout", "ログアウト"),
    ("mfa_verified", "二要素認証の成功"),
    ("one_time_password_expired", "一時パスワードの期限切れ"),
    ("password_changed", "パスワード変更"),
    ("replaced_by_login", "同じ端末で再ログイン"),
    ("rotated", "セッションID更新（継続）"),
    ("session_limit", "同時ログイン数の上限"),
    ("unknown_id", "存在しないID"),
    ("weak_format", "古い形式の回復コード"),
    ("wrong_password", "パスワード誤り"),
];

/// The words for a reason code; free text (a reason typed by a person) shows as it is.
pub fn reason(code: &str) -> String {
    REASONS
        .binary_search_by(|(k, _)| k.cmp(&code))
        .map(|i| REASONS[i].1.to_string())
        .unwrap_or_else(|_| code.to_string())
}

#[cfg(test)]
#[path = "fields_scan.rs"]
mod scan;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x4_issue15_detail_labels_and_reasons_are_sorted_and_unique() {
        for w in FIELDS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for w in FIELD_NAMES.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for w in REASONS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        assert_eq!(field("was_one_time"), "一時パスワードだった");
        assert_eq!(field("something_new"), "something_new");
        assert_eq!(reason("password_changed"), "パスワード変更");
        assert_eq!(reason("入力した理由"), "入力した理由");
    }

    #[test]
    fn r15_1_field_names_in_details_read_as_the_forms_that_changed_them_label_them() {
        for (key, label) in crate::incidents::model::EDITABLE {
            assert_eq!(field_name(key), *label, "incident field {key}");
        }
        for f in crate::records::patient_match::Field::ALL {
            assert_eq!(field_name(f.key()), f.label(), "patient field {}", f.key());
        }
        assert_eq!(field_name("something_new"), "something_new");
    }
}
