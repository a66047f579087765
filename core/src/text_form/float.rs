//! Floats as `float8out`/`float4out` print them.

/// Appends `f` as PostgreSQL prints a float with `extra_float_digits > 0`
/// (the default since PostgreSQL 12): the shortest digits that read back
/// exactly, in exponential form (`1e+20`, `1.5e-07`) when the decimal
/// exponent is below -4 or at least 15 (6 for `float4`), and `NaN`,
/// `Infinity`, `-Infinity`, `-0`.
pub(crate) fn push_float(out: &mut String, f: f64, float4: bool) {
    if f.is_nan() {
        return out.push_str("NaN");
    }
    if f.is_infinite() {
        return out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if f == 0.0 {
        return out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    }
    let sci = if float4 {
        let v = f as f32;
        let (exp, frac) = ((v.to_bits() >> 23) & 0xff, v.to_bits() & 0x7f_ffff);
        let (m, e) = match exp {
            0 => (frac, -149),
            _ => (frac | 1 << 23, exp as i32 - 150),
        };
        let exact = |s: &str| s.parse::<f32>().ok() == Some(v);
        let round = |digits: usize| format!("{:.*e}", digits - 1, v);
        ryu(
            format!("{v:e}"),
            round,
            exact,
            (m.into(), e, frac == 0 && exp > 1),
            9,
        )
    } else {
        let (exp, frac) = ((f.to_bits() >> 52) & 0x7ff, f.to_bits() & ((1 << 52) - 1));
        let (m, e) = match exp {
            0 => (frac, -1074),
            _ => (frac | 1 << 52, exp as i32 - 1075),
        };
        let exact = |s: &str| s.parse::<f64>().ok() == Some(f);
        let round = |digits: usize| format!("{:.*e}", digits - 1, f);
        ryu(
            format!("{f:e}"),
            round,
            exact,
            (m, e, frac == 0 && exp > 1),
            17,
        )
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mantissa = match mantissa.strip_prefix('-') {
        Some(m) => {
            out.push('-');
            m
        }
        None => mantissa,
    };
    if exp < -4 || exp >= if float4 { 6 } else { 15 } {
        out.push_str(mantissa);
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        if exp.unsigned_abs() < 10 {
            out.push('0');
        }
        out.push_str(&exp.unsigned_abs().to_string());
        return;
    }
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', exp.unsigned_abs() as usize - 1));
        out.push_str(&digits);
    } else {
        let int = exp as usize + 1;
        match digits.get(int..) {
            Some(frac) if !frac.is_empty() => {
                out.push_str(&digits[..int]);
                out.push('.');
                out.push_str(frac);
            }
            _ => {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int.saturating_sub(digits.len())));
            }
        }
    }
}

/// The digits PostgreSQL's Ryu prints, in `{:e}` form. Rust's `{:e}` gives
/// the shortest digits that read back exactly, but (1) it accepts a decimal
/// lying exactly halfway to a neighbouring float, which PostgreSQL's Ryu
/// (built without `STRICTLY_SHORTEST`) refuses, and (2) between two
/// equally close candidates it rounds up where Ryu takes the even one. So:
/// the value rounded (ties to even) to the fewest digits, from Rust's count
/// up, that reads back exactly and is not such a midpoint.
fn ryu(
    shortest: String,
    round: impl Fn(usize) -> String,
    exact: impl Fn(&str) -> bool,
    float: (u64, i32, bool),
    max_digits: usize,
) -> String {
    let n = shortest
        .bytes()
        .take_while(|&b| b != b'e')
        .filter(u8::is_ascii_digit)
        .count();
    (n.max(1)..=max_digits)
        .map(round)
        .find(|s| exact(s) && !is_midpoint(s, float))
        .unwrap_or(shortest)
}

/// Whether the decimal `sci` (`{:e}` form) is exactly halfway between the
/// float m·2^e and a neighbour (`narrow_below`: a power of two, whose gap
/// below is half the gap above).
fn is_midpoint(sci: &str, (m, e, narrow_below): (u64, i32, bool)) -> bool {
    let (mantissa, exp) = sci
        .trim_start_matches('-')
        .split_once('e')
        .unwrap_or_default();
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let (Ok(d), Ok(exp)) = (digits.parse::<u64>(), exp.parse::<i32>()) else {
        return false;
    };
    // The decimal is d·10^q; a midpoint is k·2^p with k odd. A midpoint
    // needs 5^|q| to divide d or k (both below 2^57): |q| ≤ 27 suffices, and
    // keeps every product below 2^120.
    let q = exp - (digits.len() as i32 - 1);
    if d == 0 || q.unsigned_abs() > 27 {
        return false;
    }
    let five = 5u128.pow(q.unsigned_abs());
    let below = if narrow_below {
        (4 * m - 1, e - 2)
    } else {
        (2 * m - 1, e - 1)
    };
    [(2 * m + 1, e - 1), below].into_iter().any(|(k, p)| {
        // d·5^q·2^q = k·2^p, or for q < 0: d = k·5^-q·2^(p-q).
        let ((a, a2), (b, b2)) = if q >= 0 {
            ((u128::from(d) * five, q), (u128::from(k), p))
        } else {
            ((u128::from(d), 0), (u128::from(k) * five, p - q))
        };
        let (za, zb) = (a.trailing_zeros(), b.trailing_zeros());
        a >> za == b >> zb && i64::from(a2) + i64::from(za) == i64::from(b2) + i64::from(zb)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64, float4: bool) -> String {
        let mut s = String::new();
        push_float(&mut s, f, float4);
        s
    }

    #[test]
    fn floats_as_postgres_prints_them() {
        for (f, text) in [
            (1e20, "1e+20"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (123456789012345.6, "123456789012345.6"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (-0.5, "-0.5"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (0.0, "0"),
            (100.0, "100"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (1e300, "1e+300"),
            (-1.5e-307, "-1.5e-307"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            // Halfway between two 17-digit candidates: the even one, as Ryu.
            (1.3948654250235363e15, "1.3948654250235362e+15"),
            (-1.3948654250235363e15, "-1.3948654250235362e+15"),
            // 5.9199409e19 is exactly halfway to the next float: Ryu refuses it.
            (5.9199409e19, "5.9199408999999996e+19"),
        ] {
            assert_eq!(float(f, false), text, "{f:e}");
        }
        for (f, text) in [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (3.4028235e38, "3.4028235e+38"),
        ] {
            assert_eq!(float((f as f32).into(), true), text, "{f:e}");
        }
    }
}
