//! The `x-mmkt-probe` kind `metrics`: series an exporter must expose for `mmctl health` to call
//! it healthy, matched against its answer in the Prometheus text exposition format (version
//! 0.0.4: `name{label="value",...} value [timestamp]` lines, `#` comments).
//!
//! A [`SeriesSelector`] is written `NAME`, `NAME{label="value",...}` or either followed by a
//! space and a value, e.g. `node_filesystem_avail_bytes{mountpoint="/docker-volumes"}` or
//! `node_textfile_scrape_error 0`. A sample matches when it has that name, carries every listed
//! label with exactly that value (other labels are ignored) and, when a value is given, equals it
//! numerically.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// One required series of a `metrics` probe (see the module documentation for the syntax).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct SeriesSelector {
    text: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: Option<f64>,
}

impl TryFrom<String> for SeriesSelector {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let sample = parse_sample(text.trim()).map_err(|e| {
            format!("series selector {text:?}: {e} (NAME{{label=\"value\"}} [VALUE])")
        })?;
        let value = match sample.value {
            "" => None,
            v => Some(
                parse_value(v)
                    .ok_or_else(|| format!("series selector {text:?}: {v:?} is not a number"))?,
            ),
        };
        Ok(SeriesSelector {
            name: sample.name.to_string(),
            labels: sample.labels,
            value,
            text: text.trim().to_string(),
        })
    }
}

/// Two selectors are equal when they are written the same.
impl PartialEq for SeriesSelector {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for SeriesSelector {}

impl fmt::Display for SeriesSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a selector found in an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesMatch {
    /// A sample matched; its value as written (e.g. `1`, `6.8e+10`).
    Found(String),
    /// Samples of that name and labels exist, but none with the required value; the first
    /// one's value as written.
    OtherValue(String),
    /// No sample of that name with those labels.
    Missing,
}

impl SeriesSelector {
    /// Looks the selector up in `exposition` (a whole `/metrics` answer). Lines that do not
    /// parse are skipped: an exporter's odd line must not hide the series that are there.
    pub fn find(&self, exposition: &str) -> SeriesMatch {
        let mut other = None;
        for line in exposition.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Ok(sample) = parse_sample(line) else {
                continue;
            };
            let labels_match = self
                .labels
                .iter()
                .all(|(k, v)| sample.labels.get(k) == Some(v));
            if sample.name != self.name || !labels_match {
                continue;
            }
            let written = sample.value.split_whitespace().next().unwrap_or("");
            match self.value {
                None => return SeriesMatch::Found(written.to_string()),
                Some(want) if parse_value(written) == Some(want) => {
                    return SeriesMatch::Found(written.to_string());
                }
                Some(_) => {
                    other.get_or_insert_with(|| written.to_string());
                }
            }
        }
        other.map_or(SeriesMatch::Missing, SeriesMatch::OtherValue)
    }
}

/// One sample line split into its parts; `value` is the rest of the line after the labels
/// (value and optional timestamp), trimmed.
struct Sample<'a> {
    name: &'a str,
    labels: BTreeMap<String, String>,
    value: &'a str,
}

fn parse_sample(line: &str) -> Result<Sample<'_>, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let valid_name = name.chars().enumerate().all(|(i, c)| {
        c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !valid_name {
        return Err(format!("{name:?} is not a metric name"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    Ok(Sample {
        name,
        labels,
        value: rest.trim(),
    })
}

/// Parses `label="value",...}` (the opening brace already consumed); returns the labels and
/// what follows the closing brace.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after_key) = s
            .split_once('=')
            .ok_or_else(|| "a label without `=\"value\"`".to_string())?;
        let key = key.trim();
        let mut chars = after_key
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("label {key}: the value must be quoted"))?
            .char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next() {
                None => return Err(format!("label {key}: unterminated value")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}: unterminated value")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        let quoted = after_key.trim_start().strip_prefix('"').unwrap_or_default();
        labels.insert(key.to_string(), value);
        s = quoted[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// A sample value: a float, or `+Inf`/`-Inf`/`NaN` as the format writes them.
fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => v.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::{SeriesMatch, SeriesSelector};

    const NODE: &str = "# HELP node_filesystem_avail_bytes Filesystem space available.\n\
        # TYPE node_filesystem_avail_bytes gauge\n\
        node_filesystem_avail_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/docker-volumes\"} 6.8374802432e+10\n\
        node_textfile_scrape_error 0\n\
        node_uname_info{machine=\"x86_64\",version=\"#1 SMP \\\"quoted\\\", comma\"} 1\n\
        probe_success 0 1700000000000\n";

    fn sel(s: &str) -> SeriesSelector {
        SeriesSelector::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn finds_a_series_by_name_and_a_subset_of_its_labels() {
        assert_eq!(
            sel("node_filesystem_avail_bytes{mountpoint=\"/docker-volumes\"}").find(NODE),
            SeriesMatch::Found("6.8374802432e+10".into())
        );
        assert_eq!(
            sel("node_filesystem_avail_bytes{mountpoint=\"/\"}").find(NODE),
            SeriesMatch::Missing
        );
        assert_eq!(
            sel("node_memory_MemTotal_bytes").find(NODE),
            SeriesMatch::Missing
        );
    }

    #[test]
    fn a_required_value_compares_numerically() {
        assert_eq!(
            sel("node_textfile_scrape_error 0").find(NODE),
            SeriesMatch::Found("0".into())
        );
        assert_eq!(
            sel("node_textfile_scrape_error 0e0").find(NODE),
            SeriesMatch::Found("0".into())
        );
        assert_eq!(
            sel("node_textfile_scrape_error 1").find(NODE),
            SeriesMatch::OtherValue("0".into())
        );
        // The timestamp after the value is not part of it.
        assert_eq!(
            sel("probe_success 0").find(NODE),
            SeriesMatch::Found("0".into())
        );
    }

    #[test]
    fn escaped_label_values_parse() {
        assert_eq!(
            sel("node_uname_info{version=\"#1 SMP \\\"quoted\\\", comma\"}").find(NODE),
            SeriesMatch::Found("1".into())
        );
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_syntax() {
        for bad in [
            "",
            "1abc",
            "up{job=node}",
            "up{job=\"node\"",
            "up two",
            "bad-name",
        ] {
            let err = SeriesSelector::try_from(bad.to_string()).unwrap_err();
            assert!(err.contains("series selector"), "{bad:?}: {err}");
        }
    }
}
