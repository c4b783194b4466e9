//! Address shape parsing, network-aware validation (base58, checksum, prefix) and network names.

use monero_types::{Address, AddressError, AddressKind, MoneroNetwork};

/// The Monero General Fund donation address (mainnet, standard).
const GENERAL_FUND: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

/// A regtest wallet's primary address (shape only).
const ADDR: &str = "44PZicHfrtSPUBjtcaMnAfX7CABmRib8FP4TLDXakGNTQDSt77FAoi8ere7egpipaQjS3VnkaniDwjmmu5f2yaVGTeidt4p";

fn validate(text: &str, network: MoneroNetwork) -> Result<(Address, AddressKind), AddressError> {
    Address::validate(text, network)
}

#[test]
fn address_shape_is_checked() {
    let a: Address = ADDR.parse().unwrap();
    assert_eq!(a.as_str(), ADDR);
    assert!("4abc".parse::<Address>().is_err());
    // '0' is not in the base58 alphabet.
    let zero = format!("0{}", &ADDR[1..]);
    assert!(zero.parse::<Address>().is_err());
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
    assert!(serde_json::from_str::<Address>("\"4abc\"").is_err());
}

#[test]
fn shape_parsing_accepts_any_base58_of_the_right_length() {
    let fixture: String = std::iter::once('4')
        .chain(std::iter::repeat_n('A', 94))
        .collect();
    assert_eq!(
        fixture.parse::<Address>().expect("shape").as_str().len(),
        95
    );
    let too_short = "4".repeat(94);
    assert!(too_short.parse::<Address>().is_err());
    let bad_char: String = std::iter::once('4')
        .chain(std::iter::repeat_n('0', 94))
        .collect();
    let err = bad_char.parse::<Address>().expect_err("0 is not base58");
    assert!(err.to_string().contains("base58"), "{err}");
    let integrated: String = std::iter::once('4')
        .chain(std::iter::repeat_n('a', 105))
        .collect();
    assert!(integrated.parse::<Address>().is_ok());
}

#[test]
fn accepts_a_real_mainnet_address() {
    let (addr, kind) = validate(GENERAL_FUND, MoneroNetwork::Mainnet).unwrap();
    assert_eq!(addr.as_str(), GENERAL_FUND);
    assert_eq!(kind, AddressKind::Standard);
}

#[test]
fn refuses_other_networks_typos_and_garbage() {
    assert!(matches!(
        validate(GENERAL_FUND, MoneroNetwork::Stagenet),
        Err(AddressError::WrongNetwork { prefix: 18, .. })
    ));
    // One character changed: checksum mismatch.
    let mut typo = GENERAL_FUND.to_owned();
    typo.replace_range(
        10..11,
        if &GENERAL_FUND[10..11] == "a" {
            "b"
        } else {
            "a"
        },
    );
    assert_eq!(
        validate(&typo, MoneroNetwork::Mainnet),
        Err(AddressError::Checksum)
    );
    assert!(matches!(
        validate("4abc", MoneroNetwork::Mainnet),
        Err(AddressError::Length { found: 4 })
    ));
    let zero = format!("0{}", &GENERAL_FUND[1..]);
    assert_eq!(
        validate(&zero, MoneroNetwork::Mainnet),
        Err(AddressError::Alphabet { found: '0' })
    );
    let overflow = format!("{}{}", "z".repeat(11), &GENERAL_FUND[11..]);
    assert!(validate(&overflow, MoneroNetwork::Mainnet).is_err());
}

#[test]
fn network_names_parse() {
    assert_eq!(
        "regtest".parse::<MoneroNetwork>().unwrap(),
        MoneroNetwork::Mainnet
    );
    assert_eq!(
        "stagenet".parse::<MoneroNetwork>().unwrap(),
        MoneroNetwork::Stagenet
    );
    assert!("moon".parse::<MoneroNetwork>().is_err());
}
