//! Japanese words for what the audit chain stores in codes (issue 15, item 6; X.2, X.4): every
//! action code the product writes, its category, the fields of the details and the kinds of
//! target. The chain (core `audit`) keeps the codes; only these pages translate them, so a new
//! domain adds its words here (the test `x4_issue15_every_audit_action_written_in_src_has_a_label`
//! finds every code written anywhere in `src/` and fails on one without a label).

/// Action code → label. Sorted by code within each category.
pub const ACTIONS: &[(&str, &str)] = &[
    ("access.denied", "閲覧の拒否（権限・同意の範囲外）"),
    ("account.attributes_changed", "アカウント属性の変更"),
    ("account.changed", "施設のアカウントの変更（通知の種類）"),
    ("account.created", "アカウントの作成"),
    ("account.disabled", "アカウントの無効化"),
    ("account.enabled", "アカウントの利用再開"),
    ("account.inventory_reviewed", "アカウント棚卸しの実施"),
    ("account.language_changed", "表示言語の変更"),
    ("account.letter_issued", "封書（初期パスワード）の発行"),
    ("account.password_reset", "パスワードの再設定"),
    ("account.role_changed", "役割の変更"),
    ("account.sessions_ended", "セッションの一括終了（管理者）"),
    ("account.totp_reset", "二要素認証の初期化"),
    ("audit.verified", "監査ログの改ざん検査"),
    ("auth.account_locked", "アカウントのロック"),
    ("auth.account_unlocked", "アカウントのロック解除"),
    ("auth.login", "ログイン"),
    ("auth.login_failed", "ログインの失敗"),
    ("auth.login_failures", "ログイン失敗の集計"),
    ("auth.logout", "ログアウト"),
    ("auth.mfa_failed", "二要素認証の失敗"),
    ("auth.mfa_verified", "二要素認証の成功"),
    ("auth.password_change_failed", "パスワード変更の失敗"),
    ("auth.password_changed", "パスワードの変更"),
    ("auth.recovery_codes_invalidated", "回復コードの無効化"),
    ("auth.recovery_codes_regenerated", "回復コードの再発行"),
    ("auth.session_ended", "セッションの終了"),
    ("auth.session_expired", "セッションの期限切れ"),
    ("auth.session_rotated", "セッションIDの更新"),
    ("auth.totp_enrolled", "二要素認証の登録"),
    ("auth.totp_secrets_sealed", "二要素認証の秘密鍵の暗号化"),
    ("backup.completed", "バックアップの完了"),
    ("backup.copied", "バックアップの複製"),
    ("backup.copy_failed", "バックアップの複製の失敗"),
    ("backup.drill_failed", "復元訓練の失敗"),
    ("backup.drilled", "復元訓練の実施"),
    ("backup.failed", "バックアップの失敗"),
    ("backup.missed", "バックアップの未実施"),
    ("backup.pruned", "古いバックアップの削除"),
    ("backup.readonly_ended", "読み取り専用の終了"),
    ("backup.readonly_started", "読み取り専用の開始"),
    ("backup.schedule_approved", "バックアップ予定の承認"),
    ("backup.schedule_proposed", "バックアップ予定の提案"),
    ("backup.schedule_rejected", "バックアップ予定の差し戻し"),
    ("backup.schedule_retired", "バックアップ予定の廃止"),
    ("backup.scheduled_finished", "定期バックアップの終了"),
    ("backup.scheduled_started", "定期バックアップの開始"),
    ("backup.started", "バックアップの開始"),
    ("backup.verified", "バックアップの検証"),
    ("backup.verify_failed", "バックアップの検証の失敗"),
    ("calendar.day_added", "休日の追加"),
    ("calendar.day_withdrawn", "休日の取り消し"),
    ("facility.created", "施設の登録"),
    ("facility.updated", "施設情報の変更"),
    ("facility.withdrawn", "施設の脱退"),
    (
        "firewall.review_generated",
        "ファイアウォールログ点検票の作成",
    ),
    (
        "firewall.review_regenerated",
        "ファイアウォールログ点検票の再作成",
    ),
    ("firewall.review_signed", "ファイアウォールログ点検の確認"),
    ("helpdesk.answered", "問い合わせへの回答"),
    ("helpdesk.assigned", "問い合わせの担当者割り当て"),
    ("helpdesk.attachment_added", "問い合わせへのファイル添付"),
    ("helpdesk.attachment_read", "問い合わせの添付ファイルの閲覧"),
    ("helpdesk.canned_added", "定型文の追加"),
    ("helpdesk.canned_retired", "定型文の廃止"),
    ("helpdesk.correction_added", "問い合わせ記録の訂正"),
    ("helpdesk.inquiry_received", "問い合わせの受付"),
    ("helpdesk.merged", "問い合わせの統合（重複）"),
    ("helpdesk.requester_added", "問い合わせへの追記（依頼者）"),
    ("helpdesk.response_added", "問い合わせへの対応記録"),
    ("incident.attachment_added", "障害への添付資料の追加"),
    ("incident.attachment_read", "障害の添付資料のダウンロード"),
    ("incident.contact_added", "障害連絡先の追加"),
    ("incident.contact_deactivated", "障害連絡先の停止"),
    ("incident.contact_moved", "障害連絡先の並べ替え"),
    ("incident.contact_reactivated", "障害連絡先の再開"),
    ("incident.contact_recorded", "障害連絡の記録"),
    ("incident.contact_updated", "障害連絡先の変更"),
    ("incident.contacts_mailed", "障害連絡メールの送信"),
    ("incident.corrected", "障害記録の訂正"),
    ("incident.created", "障害の登録"),
    ("incident.linked", "障害と問い合わせ・警報の関連付け"),
    ("incident.measure_added", "再発防止策の追加"),
    ("incident.measure_done", "再発防止策の完了"),
    ("incident.note_added", "障害経過の追記"),
    ("incident.notice_posted", "障害情報の掲載"),
    ("incident.notice_resolved", "障害情報の復旧掲載"),
    ("incident.notice_updated", "障害情報の更新"),
    ("incident.recurrence_accepted", "再発防止報告の受理"),
    ("incident.recurrence_committee", "臨時委員会の記録"),
    ("incident.recurrence_created", "再発防止報告の作成"),
    ("incident.recurrence_returned", "再発防止報告の差し戻し"),
    ("incident.recurrence_submitted", "再発防止報告の提出"),
    ("incident.recurrence_updated", "再発防止報告の更新"),
    ("incident.report_printed", "障害報告書の印刷"),
    ("incident.status_changed", "障害の状態変更"),
    ("incident.vendor_contacted", "保守業者への連絡"),
    ("keys.rotated", "鍵の更新"),
    ("mail.failed", "メール送信の失敗"),
    ("mail.retry", "メールの再送"),
    ("mail.sent", "メールの送信"),
    ("mail.test_queued", "テストメールの送信依頼"),
    ("monitor.added", "監視対象の追加"),
    ("monitor.alert_acknowledged", "警報の確認"),
    ("monitor.alert_raised", "警報の発報"),
    ("monitor.down", "監視対象の停止検知"),
    ("monitor.oncall_added", "当番連絡先の追加"),
    ("monitor.oncall_deactivated", "当番連絡先の停止"),
    ("monitor.paused", "監視の一時停止"),
    ("monitor.resumed", "監視の再開"),
    ("monitor.up", "監視対象の復旧検知"),
    ("monitor.updated", "監視設定の変更"),
    ("notification.preferences_changed", "通知設定の変更"),
    ("notification.read", "通知の既読"),
    ("notification.sent", "通知の送信"),
    ("portal.announcement_created", "お知らせの作成"),
    ("portal.announcement_restored", "お知らせの版の復元"),
    ("portal.announcement_updated", "お知らせの更新"),
    ("portal.change_request_agreed", "変更依頼の設計合意"),
    ("portal.change_request_consulting", "変更依頼の協議開始"),
    ("portal.change_request_done", "変更依頼の完了"),
    ("portal.change_request_in_progress", "変更依頼の対応開始"),
    ("portal.change_request_message", "変更依頼への書き込み"),
    ("portal.change_request_submitted", "変更依頼の受付"),
    ("portal.change_requested", "変更依頼の提出"),
    ("portal.runbook_created", "運転手順書の作成"),
    ("portal.runbook_restored", "運転手順書の版の復元"),
    ("portal.runbook_updated", "運転手順書の更新"),
    ("portal.window_approved", "作業予定の承認"),
    ("portal.window_ended", "作業予定の終了"),
    ("portal.window_proposed", "作業予定の提案"),
    ("portal.window_withdrawn", "作業予定の取り下げ"),
    ("records.api_key_created", "APIキーの発行"),
    ("records.api_key_revoked", "APIキーの失効"),
    ("records.attachment_read", "添付ファイルの取得"),
    ("records.batch_received", "一括送信の受信"),
    ("records.consent_recorded", "同意の記録"),
    ("records.consent_refused", "同意変更の拒否"),
    ("records.consent_scan_read", "同意書の閲覧"),
    ("records.consent_withdrawn", "同意の撤回"),
    ("records.consents_read", "同意一覧の閲覧"),
    ("records.document_held", "文書の保留（患者不一致）"),
    ("records.document_read", "文書の閲覧"),
    ("records.document_received", "文書の受信"),
    ("records.patient_linked", "患者IDの紐付け"),
    ("records.patient_mismatch", "患者情報の不一致"),
    ("records.patient_registered", "患者の登録"),
    ("records.patients_listed", "患者一覧の閲覧"),
    ("records.patients_searched", "患者の検索（全体検索）"),
    ("records.purged", "保存期間を過ぎた文書の削除"),
    ("records.retention", "保存期間の点検"),
    ("records.retention_listed", "保存期間一覧の閲覧"),
    ("records.review_accepted", "保留文書の受け入れ"),
    ("records.review_read", "保留文書の閲覧"),
    ("records.review_rejected", "保留文書の却下"),
    ("records.reviews_listed", "保留文書一覧の閲覧"),
    ("records.timeline_read", "経過一覧の閲覧"),
    ("request.csv_imported", "申請の一括取り込み"),
    ("request.identity_verified", "申請者の本人確認"),
    ("request.processed", "申請の処理"),
    ("request.received", "申請の受付"),
    ("request.rejected", "申請の却下"),
];

/// Category (the code's prefix) → label, in the order of the filter's choices.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("auth", "ログイン・認証"),
    ("account", "アカウント管理"),
    ("request", "利用申請"),
    ("facility", "施設"),
    ("records", "診療情報"),
    ("access", "アクセス拒否"),
    ("helpdesk", "問い合わせ"),
    ("notification", "通知"),
    ("portal", "ポータル"),
    ("incident", "障害対応"),
    ("monitor", "監視"),
    ("backup", "バックアップ"),
    ("mail", "メール"),
    ("firewall", "ファイアウォール"),
    ("calendar", "カレンダー"),
    ("keys", "鍵管理"),
    ("audit", "監査ログ"),
];

/// The label of an action code; an unknown code (written by an older version) shows as it is.
pub fn action(code: &str) -> String {
    ACTIONS
        .binary_search_by(|(c, _)| c.cmp(&code))
        .map(|i| ACTIONS[i].1.to_string())
        .unwrap_or_else(|_| code.to_string())
}

pub fn category(prefix: &str) -> Option<&'static str> {
    CATEGORIES.iter().find(|(k, _)| *k == prefix).map(|c| c.1)
}

/// Kinds of target (`kind:id`) → label.
pub fn target_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "account" => "アカウント",
        "facility" => "施設",
        "patient" => "患者",
        "document" | "documents" => "文書",
        "request" => "利用申請",
        "account_requests" => "利用申請",
        "inquiry" => "問い合わせ",
        "incident" => "障害",
        "incident_contact" => "障害連絡先",
        "incident_measure" => "再発防止策",
        "incident_recurrence" => "再発防止報告",
        "monitor" => "監視対象",
        "monitor_alert" => "警報",
        "monitor_oncall" => "当番連絡先",
        "backup" => "バックアップ",
        "backup_schedule" => "バックアップ予定",
        "backup_readonly" => "読み取り専用期間",
        "portal_announcement" => "お知らせ",
        "portal_runbook" => "運転手順書",
        "portal_change_request" => "変更依頼",
        "portal_schedule" => "作業予定",
        "calendar_day" => "休日",
        "firewall_review" => "ファイアウォールログ点検票",
        "mail" => "メール",
        "session" => "セッション",
        "api_key" => "APIキー",
        "client" => "接続元",
        "review" => "保留文書",
        "keys" => "鍵",
        "audit_events" => "監査ログ",
        "totp_secrets" => "二要素認証の秘密鍵",
        _ => return None,
    })
}

/// Field names of the details → label (the table is in `fields`); others show their name.
pub fn field(key: &str) -> String {
    super::fields::field(key)
}

#[cfg(test)]
#[path = "labels_scan.rs"]
mod scan;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x4_issue15_action_labels_are_sorted_unique_and_have_a_category() {
        for w in ACTIONS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for (code, _) in ACTIONS {
            let prefix = code.split('.').next().unwrap_or_default();
            assert!(category(prefix).is_some(), "{code} has no category");
        }
        assert_eq!(action("auth.password_changed"), "パスワードの変更");
        assert_eq!(action("something.new"), "something.new");
    }
}
