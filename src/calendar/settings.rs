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

impl CalendarSettings {
    pub fn weekly_hours(&self) -> anyhow::Result<super::WeeklyHours> {
        let mut days = Vec::new();
        for d in &self.open_weekdays {
            days.push(super::parse_weekday(d).ok_or_else(|| {
                anyhow::anyhow!("calendar.open_weekdays: 曜日 {d:?} は mon…sun で指定してください")
            })?);
        }
        let time = |key: &str, v: &str| {
            v.parse::<jiff::civil::Time>().map_err(|_| {
                anyhow::anyhow!("calendar.{key}: 時刻 {v:?} は HH:MM で指定してください")
            })
        };
        let opens = time("opens_at", &self.opens_at)?;
        let closes = time("closes_at", &self.closes_at)?;
        if opens >= closes {
            anyhow::bail!("calendar: opens_at は closes_at より前にしてください");
        }
        Ok(super::WeeklyHours {
            days,
            opens,
            closes,
        })
    }
}
