//! The two newtype shapes of this crate, written once as macros: validated public text
//! (`validated_text!`) and redacted secrets (`secret_text!`).

/// A public string newtype (`$name(String)`) whose every value passed `$check`.
///
/// `$check: fn(&str) -> Result<String, $err>` validates the text and returns what is stored
/// (e.g. lowercased). The type gets `as_str`, `FromStr` and `TryFrom<String>` (both run
/// `$check`), `From<$name> for String`, `Display` (the text) and `Debug` (`$name(text)`); serde
/// writes the string and deserialization runs `$check` too.
macro_rules! validated_text {
    ($(#[$doc:meta])* $name:ident, $err:ty, $check:path) => {
        $(#[$doc])*
        #[derive(
            Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The text, as stored after validation.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $check(s).map($name)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $err;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

/// A secret string newtype (`$name(String)`): `Debug` prints only the length, there is no
/// `Display`, and the content is reached only through `expose_secret`. Serde reads and writes
/// the plain string.
///
/// With `non_empty = "what"` the type also gets `new` (refusing empty content with
/// [`InvalidValue::EmptyBlob`](crate::InvalidValue::EmptyBlob)) and a `TryFrom<String>` doing
/// the same.
macro_rules! secret_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Debug` prints only the length; there is no `Display`, so it cannot end up in a log
        /// line by accident. Serde reads and writes the plain string.
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The secret content. Do not log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Length of the content in bytes.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// `true` if the content is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}(<redacted, {} bytes>)", stringify!($name), self.0.len())
            }
        }
    };
    ($(#[$doc:meta])* $name:ident, non_empty = $what:literal) => {
        secret_text!($(#[$doc])* $name);

        impl $name {
            /// Wraps `value` (as received from another participant or from storage).
            ///
            /// # Errors
            #[doc = concat!("[`InvalidValue::EmptyBlob`](crate::InvalidValue::EmptyBlob) (`what: \"", $what, "\"`) if `value` is empty.")]
            pub fn new(value: impl Into<String>) -> Result<Self, crate::InvalidValue> {
                let value = value.into();
                if value.is_empty() {
                    return Err(crate::InvalidValue::EmptyBlob { what: $what });
                }
                Ok($name(value))
            }
        }

        impl TryFrom<String> for $name {
            type Error = crate::InvalidValue;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::new(value)
            }
        }
    };
}

pub(crate) use {secret_text, validated_text};
