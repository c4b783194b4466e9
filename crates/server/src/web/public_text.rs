//! Texts shown to API clients that may carry a wallet-rpc or monerod error (a setup failure's
//! reason): internal addresses are replaced before they leave the server. The full text stays
//! in the server log.

/// What replaces an internal address in a public text.
pub const HIDDEN_ADDRESS: &str = "<internal address>";

/// `text` with every `http://` or `https://` URL (up to the next space, quote, bracket, comma
/// or semicolon) replaced by [`HIDDEN_ADDRESS`]: reqwest and the RPC client name the endpoint
/// they failed to reach this way.
pub fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end = url
            .find(|c: char| c.is_whitespace() || "\"'()<>[],;".contains(c))
            .unwrap_or(url.len());
        out.push_str(HIDDEN_ADDRESS);
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}

/// Byte offset of the first `http://` or `https://` (any case) in `text`.
fn find_url(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_hidden_and_the_rest_kept() {
        let reason = "make_multisig failed on the buyer wallet: cannot decode the response: error \
                      decoding response body for url (http://wallet-rpc-buyer:18083/json_rpc); also HTTPS://10.0.0.5:18081";
        let public = without_addresses(reason);
        assert!(
            !public.contains("wallet-rpc-buyer") && !public.contains("10.0.0.5"),
            "{public}"
        );
        assert!(
            public.starts_with("make_multisig failed on the buyer wallet"),
            "{public}"
        );
        assert!(public.contains("(<internal address>)"), "{public}");
        assert_eq!(without_addresses("no address here"), "no address here");
    }
}
