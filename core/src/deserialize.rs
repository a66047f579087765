//! serde deserialization of rows ([`crate::Results::deserialize`]), driven by
//! the target type: a `numeric` reads into an `f64` or a `String`, `bytea`
//! into a `Vec<u8>`, text into a `&str`, `String` or a unit enum variant,
//! json into any type, an array into a `Vec`, NULL into `None`.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use crate::row::Row;
use crate::value::Value;

/// A row as a map from column name to value (or a sequence, for tuples).
pub(crate) struct RowDeserializer<'a>(pub(crate) &'a Row);

/// One value.
#[derive(Clone, Copy)]
pub(crate) struct ValueDeserializer<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for RowDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries = self
            .0
            .columns()
            .iter()
            .zip(self.0.values())
            .map(|(c, v)| (c.name(), ValueDeserializer(v)));
        let mut map = MapDeserializer::new(entries);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let mut seq = SeqDeserializer::new(self.0.values().iter().map(ValueDeserializer));
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for ValueDeserializer<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> ValueDeserializer<'de> {
    /// A `numeric` (or any text) parsed as the number the target wants.
    fn parsed<T: std::str::FromStr>(self, what: &str) -> Result<Option<T>, Error> {
        match self.0 {
            Value::Numeric(s) => s
                .parse()
                .map(Some)
                .map_err(|_| de::Error::custom(format!("numeric {s} is not a valid {what}"))),
            _ => Ok(None),
        }
    }
}

macro_rules! numbers {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.parsed::<$ty>(stringify!($ty))? {
                Some(n) => visitor.$visit(n),
                None => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Json(j) => {
                de::Deserializer::deserialize_any(j, visitor).map_err(de::Error::custom)
            }
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(ValueDeserializer));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            other => visitor.visit_borrowed_str(other.as_str().unwrap_or_default()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    numbers! {
        deserialize_f64 => f64, visit_f64;
        deserialize_f32 => f32, visit_f32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i32 => i32, visit_i32;
        deserialize_i16 => i16, visit_i16;
        deserialize_i8 => i8, visit_i8;
        deserialize_u64 => u64, visit_u64;
        deserialize_u32 => u32, visit_u32;
        deserialize_u16 => u16, visit_u16;
        deserialize_u8 => u8, visit_u8;
        deserialize_i128 => i128, visit_i128;
        deserialize_u128 => u128, visit_u128;
    }

    /// `bytea` into `Vec<u8>` (which asks for a sequence).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Bytes(b) => {
                let mut seq = SeqDeserializer::new(b.iter().copied());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Json(j) => {
                de::Deserializer::deserialize_seq(j, visitor).map_err(de::Error::custom)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// PostgreSQL enums (text) into unit variants; json into any enum.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Json(j) => de::Deserializer::deserialize_enum(j, name, variants, visitor)
                .map_err(de::Error::custom),
            other => match other.as_str() {
                Some(s) => visitor.visit_enum(s.into_deserializer()),
                None => self.deserialize_any(visitor),
            },
        }
    }

    /// Anything into a struct or map through json; other values as they are.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Json(j) => de::Deserializer::deserialize_struct(j, name, fields, visitor)
                .map_err(de::Error::custom),
            _ => self.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool char str string bytes byte_buf unit unit_struct tuple tuple_struct
        map identifier ignored_any
    }
}
