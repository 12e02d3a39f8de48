//! Column decoders for the portability rules (no boolean columns; enums stored as text keys), used
//! with `#[sqlx(try_from = "crate::db::Flag")]` on `FromRow` structs.

use super::Timestamp;

macro_rules! decodes_as {
    ($name:ident, $inner:ty) => {
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <$inner as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <$inner as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                <$inner as sqlx::Decode<'r, sqlx::Any>>::decode(value).map($name)
            }
        }
    };
}

/// A 0/1 integer column read as `bool`.
pub struct Flag(pub i64);
decodes_as!(Flag, i64);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0 != 0
    }
}

/// A nullable timestamp column read as "has it happened" (`totp_enabled_at` → `totp_enabled`).
pub struct SetAt(pub Option<Timestamp>);
decodes_as!(SetAt, Option<Timestamp>);

impl From<SetAt> for bool {
    fn from(s: SetAt) -> bool {
        s.0.is_some()
    }
}

/// A text key of an enum (`RequestKind::from_key`), possibly NULL; the enum's module converts it.
pub struct TextKey(pub Option<String>);
decodes_as!(TextKey, Option<String>);
