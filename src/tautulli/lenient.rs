//! Lenient decoding for Tautulli's JSON: numbers may arrive as strings, any field may
//! be null, `""` or even the wrong type. A field that cannot be used becomes `None`;
//! it never fails the whole page.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Any JSON value, reduced to what a scalar field can use.
enum Scalar {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Nothing,
}

impl Scalar {
    fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            Scalar::Float(f) if f.is_finite() && f.abs() < 9.0e18 => Some(f.trunc() as i64),
            Scalar::Str(s) => {
                let t = s.trim();
                t.parse::<i64>().ok().or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                        .map(|f| f.trunc() as i64)
                })
            }
            Scalar::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(f) if f.is_finite() => Some(*f),
            Scalar::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    }

    fn into_string(self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Float(f) => Some(f.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Nothing => None,
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(v).map(Scalar::Int).unwrap_or(Scalar::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Nothing)
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Nothing)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nothing)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nothing)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// Declares a row struct whose every field is optional and decoded leniently, one
/// `name: int | float | string` per field: the schema reads as a list of names and kinds.
macro_rules! lenient_row {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:ident: $kind:ident),* $(,)? }) => {
        lenient_row!(@fields [$(#[$meta])*] $name [] $($field $kind)*);
    };
    (@fields $meta:tt $name:ident [$($done:tt)*] $field:ident int $($rest:tt)*) => {
        lenient_row!(@fields $meta $name [$($done)*
            #[serde(default, deserialize_with = "crate::tautulli::lenient::int")] pub $field: Option<i64>,
        ] $($rest)*);
    };
    (@fields $meta:tt $name:ident [$($done:tt)*] $field:ident float $($rest:tt)*) => {
        lenient_row!(@fields $meta $name [$($done)*
            #[serde(default, deserialize_with = "crate::tautulli::lenient::float")] pub $field: Option<f64>,
        ] $($rest)*);
    };
    (@fields $meta:tt $name:ident [$($done:tt)*] $field:ident string $($rest:tt)*) => {
        lenient_row!(@fields $meta $name [$($done)*
            #[serde(default, deserialize_with = "crate::tautulli::lenient::string")] pub $field: Option<String>,
        ] $($rest)*);
    };
    (@fields [$($meta:tt)*] $name:ident [$($done:tt)*]) => {
        $($meta)*
        #[derive(Debug, Default, Clone, serde::Deserialize)]
        #[allow(missing_docs)]
        pub struct $name { $($done)* }
    };
}
pub(crate) use lenient_row;

/// An integer from a number, a numeric string or a bool; otherwise `None`.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(scalar(d)?.as_i64())
}

/// A float from a number or a numeric string; otherwise `None`.
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(scalar(d)?.as_f64())
}

/// A non-empty string (numbers are written out); `None` for null, `""` and containers.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar(d)?.into_string().filter(|s| !s.is_empty()))
}

/// A row of a list that may not be a row at all.
#[derive(Debug)]
pub enum MaybeRow<T> {
    /// An object, decoded leniently.
    Row(T),
    /// Anything else (a number, a string, null...): skipped and counted.
    Unusable,
    /// An object that cannot be read as a row (a key given twice: which value is
    /// meant?): skipped and counted, the rest of the page is still read.
    Undecodable,
}

/// A row object's entries, handed to `T`'s derived decoder, tracking where the
/// underlying parser is so that `T` rejecting the row (a duplicate field) can be
/// recovered from by skipping the rest of the object.
struct Entries<A> {
    inner: A,
    /// A key was handed out and its value not yet read.
    value_pending: bool,
    /// The object's end was reached.
    ended: bool,
    /// The parser failed, or failed inside a value: the input position is unknown.
    broken: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Entries<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let key = self.inner.next_key_seed(seed);
        match &key {
            Ok(Some(_)) => self.value_pending = true,
            Ok(None) => self.ended = true,
            Err(_) => self.broken = true,
        }
        key
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.value_pending = false;
        let value = self.inner.next_value_seed(seed);
        if value.is_err() {
            self.broken = true;
        }
        value
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for MaybeRow<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for RowVisitor<T> {
            type Value = MaybeRow<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                // T's fields are all lenient and unknown keys are ignored, so only a key
                // given twice fails an object, and T fails it between entries, where the
                // parser can skip the rest of the object and go on with the next row.
                let mut entries = Entries {
                    inner: map,
                    value_pending: false,
                    ended: false,
                    broken: false,
                };
                match T::deserialize(de::value::MapAccessDeserializer::new(&mut entries)) {
                    Ok(row) => Ok(MaybeRow::Row(row)),
                    Err(e) if entries.broken => Err(e),
                    Err(_) => {
                        if entries.value_pending {
                            entries.inner.next_value::<IgnoredAny>()?;
                        }
                        if !entries.ended {
                            while entries.inner.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        }
                        Ok(MaybeRow::Undecodable)
                    }
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeRow::Unusable)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeRow::Unusable)
            }
        }
        d.deserialize_any(RowVisitor(PhantomData))
    }
}

/// A list; `null` or a non-list becomes empty.
pub fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<MaybeRow<T>>, D::Error> {
    struct ListVisitor<T>(PhantomData<T>);
    impl<'de, T: DeserializeOwned> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<MaybeRow<T>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of rows")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(100_000));
            while let Some(row) = seq.next_element::<MaybeRow<T>>()? {
                out.push(row);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(ListVisitor(PhantomData))
}
