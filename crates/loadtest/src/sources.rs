//! Loopback source addresses for load clients: on Linux the whole 127.0.0.0/8 is local, so a
//! client bound to 127.0.0.N reaches a listener on 127.0.0.1 and the listener sees 127.0.0.N,
//! as it would see separate clients. 127.0.0.1 is left to the processes under test.

use std::net::{IpAddr, Ipv4Addr};

/// The largest number of source addresses: 127.0.0.2 to 127.0.0.254.
pub const MAX_SOURCES: u8 = 253;

/// `n` loopback source addresses: 127.0.0.2, 127.0.0.3, ..., at most [`MAX_SOURCES`] (a
/// larger `n` gives 127.0.0.2 to 127.0.0.254).
pub fn loopback_sources(n: u8) -> Vec<IpAddr> {
    (0..n.min(MAX_SOURCES))
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i + 2)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_skip_127_0_0_1_and_stop_at_254() {
        assert_eq!(
            loopback_sources(2),
            vec![
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))
            ]
        );
        let all = loopback_sources(255);
        assert_eq!(all.len(), 253);
        assert_eq!(all.last(), Some(&IpAddr::V4(Ipv4Addr::new(127, 0, 0, 254))));
        assert!(loopback_sources(0).is_empty());
    }
}
