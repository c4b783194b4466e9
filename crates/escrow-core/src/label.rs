//! `label_text!`: `Display` and `FromStr` of the crate's label enums (roles, states, events,
//! stages, statuses), written once from each enum's `ALL` and `as_str`.

/// Implements `Display` (the `as_str` label) and `FromStr` (the exact label, found in `ALL`;
/// anything else is a [`ParseLabelError`](crate::error::ParseLabelError) naming `$what`).
macro_rules! label_text {
    ($name:ident, $what:literal) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::ParseLabelError;

            #[doc = concat!("Parses a label produced by [`", stringify!($name), "::as_str`] (exact, lowercase).")]
            ///
            /// # Errors
            /// [`ParseLabelError`](crate::error::ParseLabelError) for any other text.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| crate::error::ParseLabelError::new($what, s))
            }
        }
    };
}

pub(crate) use label_text;
