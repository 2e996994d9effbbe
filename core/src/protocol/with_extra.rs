//! Decoding a wire type that keeps its unknown fields in `extra`, without serde's `flatten`.
//!
//! `#[serde(flatten)]` makes a derived `Deserialize` buffer every unknown field into serde's
//! private `Content` and decode it a second time into the map, and it reads each key through
//! that buffer too; a chat completion (five such maps) took about 2 µs to decode that way.
//! `deserialize_with_extra!` writes the visitor serde would write without `flatten`: known
//! fields are decoded straight from the map, every other key straight into `extra`
//! (`docs/decisions.md`, *Answers are decoded without serde's flatten*).
//!
//! What a derived impl did is kept: a missing field takes its `Default` (or, marked
//! `required`, fails with serde's "missing field" error), a field given twice fails, unknown
//! fields keep their order, and `null` is accepted only where the field's type accepts it.

/// Implements `Deserialize` for `$ty`, whose fields are the listed ones plus
/// `extra: Extra`. Each field is `name: "json name" => default | required`; errors read as a
/// derived impl's ("expected struct ChatCompletion").
macro_rules! deserialize_with_extra {
    ($ty:ident { $($field:ident: $name:literal => $missing:ident),* $(,)? }) => {
        const _: () = {
            use std::borrow::Cow;
            use std::fmt;

            use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

            /// A key of the map: one of the fields, or a name kept in `extra`.
            #[allow(non_camel_case_types)]
            enum Field<'de> {
                $($field,)*
                Other(Cow<'de, str>),
            }

            impl<'de> Field<'de> {
                fn of(name: &str) -> Option<Self> {
                    match name {
                        $($name => Some(Field::$field),)*
                        _ => None,
                    }
                }
            }

            struct FieldVisitor;

            impl<'de> Visitor<'de> for FieldVisitor {
                type Value = Field<'de>;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a field name")
                }

                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'de>, E> {
                    Ok(Field::of(v).unwrap_or(Field::Other(Cow::Borrowed(v))))
                }

                fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'de>, E> {
                    Ok(Field::of(v).unwrap_or_else(|| Field::Other(Cow::Owned(v.to_owned()))))
                }

                fn visit_string<E: de::Error>(self, v: String) -> Result<Field<'de>, E> {
                    Ok(match Field::of(&v) {
                        Some(field) => field,
                        None => Field::Other(Cow::Owned(v)),
                    })
                }
            }

            impl<'de> Deserialize<'de> for Field<'de> {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    d.deserialize_identifier(FieldVisitor)
                }
            }

            struct TypeVisitor;

            impl<'de> Visitor<'de> for TypeVisitor {
                type Value = $ty;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(concat!("struct ", stringify!($ty)))
                }

                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                    $(let mut $field = None;)*
                    let mut extra = $crate::protocol::Extra::new();
                    while let Some(key) = map.next_key::<Field<'de>>()? {
                        match key {
                            $(Field::$field => {
                                if $field.is_some() {
                                    return Err(de::Error::duplicate_field($name));
                                }
                                $field = Some(map.next_value()?);
                            })*
                            Field::Other(name) => {
                                extra.insert(name.into_owned(), map.next_value()?);
                            }
                        }
                    }
                    Ok($ty {
                        $($field: match $field {
                            Some(value) => value,
                            None => missing_field!($missing, $name),
                        },)*
                        extra,
                    })
                }
            }

            impl<'de> Deserialize<'de> for $ty {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    d.deserialize_map(TypeVisitor)
                }
            }
        };
    };
}

/// What a missing field becomes: its `Default`, or serde's "missing field" error.
macro_rules! missing_field {
    (default, $name:literal) => {
        Default::default()
    };
    (required, $name:literal) => {
        return Err(de::Error::missing_field($name))
    };
}
