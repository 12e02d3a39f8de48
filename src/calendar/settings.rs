//! The `[calendar]` settings section: weekly business hours.

use serde::{Deserialize, Serialize};

/// Business hours (R15.1); holidays and the year-end closure are rules, not settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarSettings {
    pub open_weekdays: Vec<String>,
    pub opens_at: String,
    pub closes_at: String,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            open_weekdays: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            opens_at: "09:00".into(),
            closes_at: "18:00".into(),
        }
    }
}
