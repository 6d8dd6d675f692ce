//! One rule for settings, wherever they come from — a flag, an environment
//! variable or a file such as `ci/PARITY_STRICT`: the same words mean the
//! same thing, a blank value is unset, and a bad value is an error naming
//! where it came from.

/// Reads one setting from the environment; `None` when unset or blank.
pub type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The process environment, blank values read as unset.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// `true/yes/y/on/t/1` or `false/no/n/off/f/0`, in any case, blanks around ignored.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "t" | "1" => Ok(true),
        "false" | "no" | "n" | "off" | "f" | "0" => Ok(false),
        _ => Err(format!("`{}` is not true or false (yes/no, on/off, 1/0)", text.trim())),
    }
}

/// A boolean switch as clap reads it from a flag or its variable: a blank
/// value (an unset CI variable) is off.
pub fn parse_switch(text: &str) -> Result<bool, String> {
    if text.trim().is_empty() {
        Ok(false)
    } else {
        parse_bool(text)
    }
}

/// A boolean setting read from `source` (a variable or a file name), the
/// error naming it.
pub fn bool_from(source: &str, text: &str) -> Result<bool, String> {
    parse_bool(text).map_err(|e| format!("{source}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_vocabulary_for_every_boolean() {
        for yes in ["true", "TRUE", " yes ", "y", "on", "t", "1"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes:?}");
        }
        for no in ["false", "No", "n", "off", "f", "0"] {
            assert_eq!(parse_bool(no), Ok(false), "{no:?}");
        }
        assert!(parse_bool("maybe").unwrap_err().contains("not true or false"));
        assert!(parse_bool("").is_err(), "a file or variable that says nothing is not a value");
    }

    #[test]
    fn a_blank_switch_is_off_and_errors_name_their_source() {
        assert_eq!(parse_switch(""), Ok(false));
        assert_eq!(parse_switch(" "), Ok(false));
        assert_eq!(parse_switch("yes"), Ok(true));
        assert!(parse_switch("maybe").is_err());
        let e = bool_from("ci/PARITY_STRICT", "garbage").unwrap_err();
        assert!(e.starts_with("ci/PARITY_STRICT: `garbage`"), "{e}");
    }
}
