//! Text names of the scenario's closed sets (fault kinds, invariants):
//! Display, FromStr with a "did you mean" hint, and Serialize as the name.

/// Parses `s` as one of `all` by name; the error lists what is valid.
pub(crate) fn parse_name<T: Copy>(
    s: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<T, String> {
    if let Some(found) = all.iter().copied().find(|&t| name(t) == s) {
        return Ok(found);
    }
    let names: Vec<&str> = all.iter().map(|&t| name(t)).collect();
    let hint = match crate::config::did_you_mean(s, names.iter().copied()) {
        Some(near) => format!("did you mean {near:?}? "),
        None => String::new(),
    };
    Err(format!(
        "unknown {what} {s:?}; {hint}valid: {}",
        names.join(", ")
    ))
}

/// Implements Display, FromStr and Serialize through `name()` and `ALL`.
macro_rules! named {
    ($ty:ident, $what:literal) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::scenario::named::parse_name(s, &$ty::ALL, $ty::name, $what)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
pub(crate) use named;
