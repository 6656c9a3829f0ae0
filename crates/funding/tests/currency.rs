//! The currency table, and reading and writing amounts with it.

use greenlight_funding::*;
use proptest::prelude::*;

fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

/// Minor-unit exponents transcribed from the ISO 4217 list (table A.1), independently of the
/// crate's table, for every code the crate supports and a few it deliberately leaves out.
const ISO_4217: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("GNF", 0),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("ZAR", 2),
];

fn iso_exponent(currency: Currency) -> Option<u32> {
    ISO_4217
        .iter()
        .find(|(code, _)| *code == currency.as_str())
        .map(|&(_, exponent)| exponent)
}

#[test]
fn every_entry_has_its_iso_4217_exponent_a_positive_floor_and_a_sane_symbol() {
    assert!(CurrencyInfo::all().len() >= 40);
    for info in CurrencyInfo::all() {
        let c = info.currency;
        assert_eq!(Some(info.exponent), iso_exponent(c), "{c}: exponent");
        assert_eq!(c.exponent(), Some(info.exponent), "{c}");
        assert_eq!(c.info(), Some(info), "{c}");
        assert!(c.supported(), "{c}");
        assert!(info.newcomer_floor_major > 0, "{c}: floor");
        let floor = c.newcomer_floor_minor().unwrap();
        assert_eq!(
            floor,
            info.newcomer_floor_major * 10_i64.pow(info.exponent),
            "{c}: floor in minor units"
        );
        // The floor is written exactly like a person would type it.
        assert_eq!(
            c.parse_major(&info.newcomer_floor_major.to_string()),
            Ok(floor),
            "{c}"
        );
        assert_eq!(c.symbol(), info.symbol, "{c}");
        if let Some(symbol) = info.symbol {
            assert!(
                !symbol.is_empty()
                    && !symbol
                        .chars()
                        .any(|ch| ch.is_ascii_digit() || ch.is_whitespace()),
                "{c}: {symbol:?}"
            );
        }
    }
}

#[test]
fn the_currencies_people_use_most_are_supported_with_the_right_exponent() {
    let expected = [
        ("USD", 2, 2_500),
        ("EUR", 2, 2_500),
        ("GBP", 2, 2_000),
        ("CAD", 2, 3_500),
        ("AUD", 2, 4_000),
        ("CHF", 2, 2_000),
        ("JPY", 0, 4_000),
        ("KRW", 0, 35_000),
        ("CLP", 0, 25_000),
        ("ISK", 0, 3_000),
        ("VND", 0, 650_000),
        ("BHD", 3, 10_000),
        ("KWD", 3, 8_000),
        ("JOD", 3, 18_000),
        ("OMR", 3, 10_000),
        ("TND", 3, 75_000),
        ("IQD", 3, 33_000_000),
        ("LYD", 3, 135_000),
        ("SEK", 2, 25_000),
        ("NOK", 2, 25_000),
        ("DKK", 2, 15_000),
        ("NZD", 2, 4_500),
        ("PLN", 2, 10_000),
        ("CZK", 2, 50_000),
        ("INR", 2, 200_000),
        ("BRL", 2, 15_000),
        ("MXN", 2, 50_000),
        ("SGD", 2, 3_500),
        ("HKD", 2, 20_000),
    ];
    for (code, exponent, floor_minor) in expected {
        let c = cur(code);
        assert_eq!(c.exponent(), Some(exponent), "{code}");
        assert_eq!(c.newcomer_floor_minor(), Some(floor_minor), "{code}");
    }
    assert_eq!(cur("USD").symbol(), Some("$"));
    assert_eq!(cur("EUR").symbol(), Some("€"));
    assert_eq!(cur("GBP").symbol(), Some("£"));
    assert_eq!(cur("JPY").symbol(), Some("¥"));
    assert_eq!(cur("CHF").symbol(), None);
}

#[test]
fn a_well_formed_code_not_in_the_table_is_not_supported_for_money() {
    for code in ["XYZ", "CLF", "BIF", "AAA"] {
        let c = cur(code);
        assert!(!c.supported(), "{code}");
        assert_eq!(c.info(), None);
        assert_eq!(c.exponent(), None);
        assert_eq!(c.symbol(), None);
        assert_eq!(c.newcomer_floor_minor(), None);
        assert_eq!(
            c.parse_major("10"),
            Err(AmountError::UnsupportedCurrency(c))
        );
        // Written as the bare count of minor units: no decimal point is invented.
        assert_eq!(c.format_minor(1_234), "1234");
        assert_eq!(c.format_minor(-5), "-5");
    }
}

#[test]
fn amounts_become_minor_units_in_each_currencys_own_exponent() {
    assert_eq!(cur("KRW").parse_major("1000"), Ok(1_000));
    assert_eq!(cur("JPY").parse_major("300"), Ok(300));
    assert_eq!(cur("BHD").parse_major("1.234"), Ok(1_234));
    assert_eq!(cur("BHD").parse_major("1.2"), Ok(1_200));
    assert_eq!(cur("BHD").parse_major("7"), Ok(7_000));
    assert_eq!(Currency::USD.parse_major("25"), Ok(2_500));
    assert_eq!(Currency::USD.parse_major("12.5"), Ok(1_250));
    assert_eq!(Currency::USD.parse_major("12.50"), Ok(1_250));
    assert_eq!(Currency::USD.parse_major("0.01"), Ok(1));
    assert_eq!(Currency::USD.parse_major("0"), Ok(0));
    assert_eq!(Currency::USD.parse_major("007.10"), Ok(710));
    assert_eq!(
        Currency::USD.parse_major("92233720368547758.07"),
        Ok(i64::MAX)
    );
}

#[test]
fn too_many_decimals_are_refused_never_rounded() {
    let jpy = cur("JPY");
    assert_eq!(
        jpy.parse_major("1.5"),
        Err(AmountError::TooManyDecimals {
            text: "1.5".into(),
            currency: jpy,
            allowed: 0
        })
    );
    // Even a zero fraction: it claims a precision the currency does not have.
    assert!(matches!(
        jpy.parse_major("1.0"),
        Err(AmountError::TooManyDecimals { .. })
    ));
    assert!(matches!(
        Currency::USD.parse_major("1.234"),
        Err(AmountError::TooManyDecimals { allowed: 2, .. })
    ));
    assert!(matches!(
        Currency::USD.parse_major("1.230"),
        Err(AmountError::TooManyDecimals { .. })
    ));
    assert!(matches!(
        cur("BHD").parse_major("1.2345"),
        Err(AmountError::TooManyDecimals { allowed: 3, .. })
    ));
    assert_eq!(
        jpy.parse_major("1.5").unwrap_err().to_string(),
        "\"1.5\" has too many decimals: JPY has no minor unit: write a whole number"
    );
    assert_eq!(
        Currency::USD.parse_major("1.234").unwrap_err().to_string(),
        "\"1.234\" has too many decimals: USD takes at most 2 decimals"
    );
}

#[test]
fn negative_malformed_and_overflowing_amounts_are_refused() {
    let usd = Currency::USD;
    assert_eq!(
        usd.parse_major("-3"),
        Err(AmountError::Negative("-3".into()))
    );
    assert_eq!(
        usd.parse_major("-0"),
        Err(AmountError::Negative("-0".into()))
    );
    for bad in [
        "", " ", "ten", "1e3", "+5", "1,000", "1 000", " 5", "5 ", ".5", "5.", "1.2.3", "--3", "-",
        "0x10", "١٢", "５", "1_000", "NaN", "inf",
    ] {
        assert_eq!(
            usd.parse_major(bad),
            Err(AmountError::Malformed(bad.into())),
            "{bad:?}"
        );
    }
    for big in [
        "92233720368547758.08",
        "99999999999999999999",
        "9223372036854775808",
    ] {
        assert!(
            matches!(usd.parse_major(big), Err(AmountError::TooLarge { .. })),
            "{big:?}"
        );
    }
    assert_eq!(cur("JPY").parse_major("9223372036854775807"), Ok(i64::MAX));
    assert!(matches!(
        cur("BHD").parse_major("9223372036854775.808"),
        Err(AmountError::TooLarge { .. })
    ));
}

#[test]
fn minor_units_are_written_with_every_decimal() {
    let usd = Currency::USD;
    assert_eq!(usd.format_minor(1_250), "12.50");
    assert_eq!(usd.format_minor(5), "0.05");
    assert_eq!(usd.format_minor(0), "0.00");
    assert_eq!(usd.format_minor(-120), "-1.20");
    assert_eq!(usd.format_minor(i64::MAX), "92233720368547758.07");
    assert_eq!(usd.format_minor(i64::MIN), "-92233720368547758.08");
    assert_eq!(cur("JPY").format_minor(1_500), "1500");
    assert_eq!(cur("KRW").format_minor(-7), "-7");
    assert_eq!(cur("BHD").format_minor(1_234), "1.234");
    assert_eq!(cur("BHD").format_minor(5), "0.005");
}

#[test]
fn styles_group_digits_and_drop_a_zero_fraction() {
    let people = AmountStyle {
        group_separator: Some(','),
        drop_zero_fraction: true,
    };
    let usd = Currency::USD;
    assert_eq!(usd.format_minor_with(124_000, people), "1,240");
    assert_eq!(usd.format_minor_with(123_456_789, people), "1,234,567.89");
    assert_eq!(usd.format_minor_with(100_000, people), "1,000");
    assert_eq!(usd.format_minor_with(99_999, people), "999.99");
    assert_eq!(usd.format_minor_with(-500_000_000, people), "-5,000,000");
    assert_eq!(usd.format_minor_with(0, people), "0");
    assert_eq!(cur("JPY").format_minor_with(1_500, people), "1,500");
    assert_eq!(cur("BHD").format_minor_with(1_234_500, people), "1,234.500");
    assert_eq!(cur("BHD").format_minor_with(1_234_000, people), "1,234");
    let grouped_only = AmountStyle {
        group_separator: Some(' '),
        drop_zero_fraction: false,
    };
    assert_eq!(usd.format_minor_with(100_000, grouped_only), "1 000.00");
}

#[test]
fn several_amounts_round_trip_in_every_currency() {
    for info in CurrencyInfo::all() {
        let c = info.currency;
        let scale = 10_i64.pow(info.exponent);
        for minor in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            scale - 1,
            scale,
            scale + 1,
            info.newcomer_floor_major * scale,
            123_456_789,
            i64::MAX / 3,
            i64::MAX,
        ] {
            let text = c.format_minor(minor);
            assert_eq!(c.parse_major(&text), Ok(minor), "{c} {minor} as {text:?}");
            assert_eq!(text.contains('.'), info.exponent > 0, "{c} {text:?}");
        }
        // What people type comes back out in the canonical form.
        let typed = match info.exponent {
            0 => "1234",
            2 => "1234.56",
            3 => "1234.567",
            _ => unreachable!("exponent {} for {c}", info.exponent),
        };
        assert_eq!(c.format_minor(c.parse_major(typed).unwrap()), typed);
        // Negative amounts are written but never read back.
        assert!(matches!(
            c.parse_major(&c.format_minor(-scale)),
            Err(AmountError::Negative(_))
        ));
    }
}

fn supported() -> impl Strategy<Value = CurrencyInfo> {
    prop::sample::select(CurrencyInfo::all().to_vec())
}

/// A canonical major-unit amount for `exponent` decimals: no leading zeros, exactly
/// `exponent` decimals, within `i64` minor units.
fn canonical(exponent: u32) -> impl Strategy<Value = String> {
    let max_whole = i64::MAX / 10_i64.pow(exponent) - 1;
    (
        prop_oneof![0..1_000_i64, 0..=max_whole],
        0..10_i64.pow(exponent),
    )
        .prop_map(move |(whole, fraction)| match exponent {
            0 => whole.to_string(),
            _ => format!("{whole}.{fraction:0width$}", width = exponent as usize),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn format_of_parse_is_the_identity_on_canonical_text(
        (info, text) in supported().prop_flat_map(|info| (Just(info), canonical(info.exponent)))
    ) {
        let minor = info.currency.parse_major(&text);
        prop_assert!(minor.is_ok(), "{} {text:?}: {minor:?}", info.currency);
        let minor = minor.unwrap_or_default();
        prop_assert_eq!(info.currency.format_minor(minor), text);
    }

    #[test]
    fn parse_of_format_is_the_identity_on_non_negative_minor_units(
        info in supported(),
        minor in prop_oneof![0..100_000_i64, 0..=i64::MAX],
    ) {
        let text = info.currency.format_minor(minor);
        prop_assert_eq!(info.currency.parse_major(&text), Ok(minor));
    }

    #[test]
    fn parsing_never_panics_and_only_accepts_digits(info in supported(), text in ".{0,24}") {
        if let Ok(minor) = info.currency.parse_major(&text) {
            prop_assert!(minor >= 0);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        }
    }

    #[test]
    fn formatting_with_a_style_only_adds_separators_or_drops_zeros(
        info in supported(),
        minor in any::<i64>(),
        drop_zero_fraction in any::<bool>(),
    ) {
        let c = info.currency;
        let styled = c.format_minor_with(minor, AmountStyle { group_separator: Some(','), drop_zero_fraction });
        let plain = c.format_minor(minor);
        let ungrouped = styled.replace(',', "");
        let zeros = format!(".{}", "0".repeat(info.exponent as usize));
        let with_zeros = format!("{ungrouped}{zeros}");
        let same = ungrouped == plain || (drop_zero_fraction && with_zeros == plain);
        prop_assert!(same, "{} {}: {:?} vs {:?}", c, minor, styled, plain);
    }
}
