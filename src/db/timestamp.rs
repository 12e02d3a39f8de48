//! `Timestamp`: an instant stored as fixed-format UTC RFC 3339 text (`2026-11-25T01:02:03.456Z`),
//! so that text order is time order on both backends and `sqlite3` / `psql` show it readably.

use std::fmt;
use std::str::FromStr;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(jiff::Timestamp);

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

impl Timestamp {
    pub fn as_jiff(&self) -> jiff::Timestamp {
        self.0
    }

    /// Truncates to whole milliseconds, the precision that is stored.
    pub fn from_millis(ms: i64) -> Option<Self> {
        jiff::Timestamp::from_millisecond(ms).ok().map(Self)
    }

    pub fn millis(&self) -> i64 {
        self.0.as_millisecond()
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.as_second()
    }

    pub fn plus(&self, d: SignedDuration) -> Self {
        Self::from_millis(
            self.0
                .saturating_add(d)
                .map(|t| t.as_millisecond())
                .unwrap_or(self.millis()),
        )
        .unwrap_or(*self)
    }

    pub fn minus(&self, d: SignedDuration) -> Self {
        self.plus(-d)
    }

    pub fn plus_minutes(&self, m: i64) -> Self {
        self.plus(SignedDuration::from_mins(m))
    }

    /// `self - earlier`.
    pub fn since(&self, earlier: Timestamp) -> SignedDuration {
        self.0.duration_since(earlier.0)
    }

    pub fn to_db(&self) -> String {
        self.0.strftime(FORMAT).to_string()
    }

    /// Japan time for people: `2026-11-25 10:02`.
    pub fn jst(&self) -> String {
        self.0
            .to_zoned(tokyo())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// Japan time with seconds, for logs and evidence.
    pub fn jst_seconds(&self) -> String {
        self.0
            .to_zoned(tokyo())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

/// Asia/Tokyo from the bundled time-zone database (works without system tzdata).
pub fn tokyo() -> TimeZone {
    TimeZone::get("Asia/Tokyo").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(9)))
}

impl From<jiff::Timestamp> for Timestamp {
    fn from(t: jiff::Timestamp) -> Self {
        Self::from_millis(t.as_millisecond()).unwrap_or(Self(t))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

impl FromStr for Timestamp {
    type Err = jiff::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<jiff::Timestamp>().map(Self::from)
    }
}

impl Type<Any> for Timestamp {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
}

impl Encode<'_, Any> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Any>>::encode(self.to_db(), buf)
    }
}

impl<'r> Decode<'r, Any> for Timestamp {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <String as Decode<Any>>::decode(value)?;
        Ok(text.parse()?)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_stored_in_one_fixed_utc_format() {
        let t: Timestamp = "2026-11-25T10:02:03+09:00".parse().expect("parse");
        assert_eq!(t.to_db(), "2026-11-25T01:02:03.000Z");
        assert_eq!(t.jst(), "2026-11-25 10:02");
    }

    #[test]
    fn text_order_is_time_order() {
        let a: Timestamp = "2026-01-01T00:00:00.5Z".parse().expect("a");
        let b: Timestamp = "2026-01-01T00:00:01Z".parse().expect("b");
        assert!(a < b);
        assert!(a.to_db() < b.to_db());
    }

    #[test]
    fn sub_millisecond_precision_is_dropped_so_round_trips_are_exact() {
        let t: Timestamp = "2026-01-01T00:00:00.123456Z".parse().expect("parse");
        let back: Timestamp = t.to_db().parse().expect("round trip");
        assert_eq!(t, back);
    }
}
