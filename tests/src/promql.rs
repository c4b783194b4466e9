//! Extracts the metric selectors (names and label matchers) a PromQL expression reads, so the
//! checks can compare alert rules and dashboards against the metrics the server is specified to
//! export. Syntax is validated by Prometheus itself (promtool, the query API); this scanner only
//! needs to find names: it skips strings, ranges, function and aggregation names, keywords and
//! the label lists of `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`.

/// One vector selector: `name{label op "value", ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Metric name, e.g. `http_requests_total` or `http_request_duration_seconds_bucket`.
    pub metric: String,
    /// Label matchers in order of appearance.
    pub matchers: Vec<Matcher>,
}

/// One label matcher inside `{...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// The quoted value, unquoted (escapes are kept as written).
    pub value: String,
}

/// The expression could not be scanned (unbalanced brackets, unterminated string, malformed
/// matcher); the byte offset points at the problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanError {
    /// A string literal has no closing quote.
    #[error("unterminated string starting at offset {0}")]
    UnterminatedString(usize),
    /// A `(`, `[` or `{` has no matching closing bracket.
    #[error("unbalanced bracket at offset {0}")]
    Unbalanced(usize),
    /// A label matcher is not `label op "value"`.
    #[error("malformed label matcher at offset {0}")]
    BadMatcher(usize),
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

/// Returns every vector selector with a metric name in `expr`, in order of appearance.
/// Grafana variables (`$__rate_interval`, `$instance`) are accepted where Grafana allows them:
/// inside ranges and label values.
pub fn selectors(expr: &str) -> Result<Vec<Selector>, ScanError> {
    let bytes = expr.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i)?,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'[' => i = skip_group(bytes, i, b'[', b']')?,
            b'{' => {
                // A selector with no metric name (`{__name__=~"..."}`): not used by mmkt.
                let (_, end) = matchers(bytes, i)?;
                i = end;
            }
            b'$' => {
                i += 1;
                while i < bytes.len() && is_ident_char(bytes[i]) {
                    i += 1;
                }
            }
            b'0'..=b'9' | b'.' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < bytes.len() && is_ident_char(bytes[i]) {
                    i += 1;
                }
                let ident = &expr[start..i];
                let next = skip_ws(bytes, i);
                let followed_by_paren = bytes.get(next) == Some(&b'(');
                if LABEL_LIST_KEYWORDS.contains(&ident) {
                    if followed_by_paren {
                        i = skip_group(bytes, next, b'(', b')')?;
                    }
                    continue;
                }
                if KEYWORDS.contains(&ident) || AGGREGATIONS.contains(&ident) || followed_by_paren {
                    continue;
                }
                let mut selector = Selector {
                    metric: ident.to_owned(),
                    matchers: Vec::new(),
                };
                if bytes.get(next) == Some(&b'{') {
                    let (parsed, end) = matchers(bytes, next)?;
                    selector.matchers = parsed;
                    i = end;
                }
                found.push(selector);
            }
            _ => i += 1,
        }
    }
    Ok(found)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// `bytes[start]` is a quote; returns the offset just past the closing quote.
fn skip_string(bytes: &[u8], start: usize) -> Result<usize, ScanError> {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote != b'`' => i += 2,
            c if c == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(ScanError::UnterminatedString(start))
}

/// `bytes[start]` is `open`; returns the offset just past the matching `close` (strings inside
/// are skipped, nesting of the same bracket kind is honoured).
fn skip_group(bytes: &[u8], start: usize, open: u8, close: u8) -> Result<usize, ScanError> {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' | b'`' => {
                i = skip_string(bytes, i)?;
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(ScanError::Unbalanced(start))
}

/// `bytes[start]` is `{`; parses `label op "value"` pairs up to the closing `}`.
fn matchers(bytes: &[u8], start: usize) -> Result<(Vec<Matcher>, usize), ScanError> {
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            None => return Err(ScanError::Unbalanced(start)),
            Some(b'}') => return Ok((out, i + 1)),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(&c) if is_ident_start(c) => {}
            Some(_) => return Err(ScanError::BadMatcher(i)),
        }
        let label_start = i;
        while i < bytes.len() && is_ident_char(bytes[i]) {
            i += 1;
        }
        let label = String::from_utf8_lossy(&bytes[label_start..i]).into_owned();
        i = skip_ws(bytes, i);
        let op = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'='), Some(b'~')) => "=~",
            (Some(b'!'), Some(b'=')) => "!=",
            (Some(b'!'), Some(b'~')) => "!~",
            (Some(b'='), _) => "=",
            _ => return Err(ScanError::BadMatcher(i)),
        };
        i = skip_ws(bytes, i + op.len());
        if !matches!(bytes.get(i), Some(b'"' | b'\'' | b'`')) {
            return Err(ScanError::BadMatcher(i));
        }
        let end = skip_string(bytes, i)?;
        let value = String::from_utf8_lossy(&bytes[i + 1..end - 1]).into_owned();
        out.push(Matcher {
            label,
            op: op.to_owned(),
            value,
        });
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        selectors(expr)
            .unwrap()
            .into_iter()
            .map(|s| s.metric)
            .collect()
    }

    #[test]
    fn finds_metrics_and_skips_functions_keywords_and_label_lists() {
        let expr = r#"
          histogram_quantile(0.99,
            sum by (job, instance, le) (rate(http_request_duration_seconds_bucket{path!~"/ws|/health"}[5m]))
          ) > 1
          and on (job, instance) group_left (state)
          sum without (method) (escrow_total) > bool 0 offset 5m
          or max(up) by (job)"#;
        assert_eq!(
            names(expr),
            ["http_request_duration_seconds_bucket", "escrow_total", "up"]
        );
    }

    #[test]
    fn parses_matchers_with_every_operator() {
        let found = selectors(r#"m{a="x", b!="y",c=~"z|w" , d!~ 'q\'s'}[1m:30s]"#).unwrap();
        assert_eq!(found.len(), 1);
        let ops: Vec<_> = found[0]
            .matchers
            .iter()
            .map(|m| (m.label.as_str(), m.op.as_str()))
            .collect();
        assert_eq!(ops, [("a", "="), ("b", "!="), ("c", "=~"), ("d", "!~")]);
        assert_eq!(found[0].matchers[2].value, "z|w");
    }

    #[test]
    fn accepts_grafana_variables_in_ranges_and_label_values() {
        let expr = r#"sum(rate(http_requests_total{job="server", instance=~"$instance"}[$__rate_interval]))"#;
        assert_eq!(names(expr), ["http_requests_total"]);
        let expr = "topk(10, sum by (path) (increase(http_requests_total[$__range])))";
        assert_eq!(names(expr), ["http_requests_total"]);
    }

    #[test]
    fn strings_and_time_do_not_count_as_metrics() {
        assert_eq!(
            names(r#"time() - process_start_time_seconds"#),
            ["process_start_time_seconds"]
        );
        assert_eq!(
            names(r#"label_replace(up, "a", "not_a_metric", "", "")"#),
            ["up"]
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_guess() {
        assert_eq!(
            selectors(r#"m{a="x"#),
            Err(ScanError::UnterminatedString(4))
        );
        assert_eq!(selectors("rate(m[5m)"), Err(ScanError::Unbalanced(6)));
        assert_eq!(selectors(r#"m{a x}"#), Err(ScanError::BadMatcher(4)));
    }
}
