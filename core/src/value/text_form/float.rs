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
    let sci = ryu(f, float4);
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

/// The float m·2^e, and whether it is a power of two whose gap below is
/// half the gap above.
type Parts = (u64, i32, bool);

fn parts(f: f64, float4: bool) -> Parts {
    let (bits, mantissa_bits, min_exp) = match float4 {
        true => (u64::from((f as f32).to_bits()), 23, -149),
        false => (f.to_bits(), 52, -1074),
    };
    let exp = (bits >> mantissa_bits) & if float4 { 0xff } else { 0x7ff };
    let frac = bits & ((1 << mantissa_bits) - 1);
    match exp {
        0 => (frac, min_exp, false),
        _ => (
            frac | 1 << mantissa_bits,
            min_exp - 1 + exp as i32,
            frac == 0 && exp > 1,
        ),
    }
}

/// The digits PostgreSQL's Ryu prints, in `{:e}` form: the value rounded
/// (ties to even) to the fewest digits that read back exactly, never a
/// decimal lying exactly halfway to a neighbouring float (PostgreSQL builds
/// Ryu without `STRICTLY_SHORTEST`). Rust's `{:e}` accepts such midpoints and
/// rounds ties up, so its digit count is only where the search starts.
/// `float4` goes through the f64 routines (every f32 is an f64), which keeps
/// the f32 parsing and printing code out of the binary.
/// A `float4` as the number its text reads as (`1.1`, not the f32's exact
/// 1.100000023841858), as drivers that parse the text form give it; this is
/// how [`crate::Value::Float`] holds a `float4`.
///
/// ```
/// assert_eq!(edgepg_core::float4_value(1.1), 1.1);
/// assert_eq!(edgepg_core::float4_value(0.25), 0.25);
/// assert!(edgepg_core::float4_value(f32::NAN).is_nan());
/// ```
pub fn float4_value(f: f32) -> f64 {
    let wide = f64::from(f);
    if !wide.is_finite() || wide == 0.0 {
        return wide;
    }
    read_back(&ryu(wide, true))
}

fn ryu(f: f64, float4: bool) -> String {
    let own = parts(f, float4);
    let (start, max) = match float4 {
        // A candidate that reads back as an f64 lying exactly on an f32
        // midpoint is refused: which side the decimal is on is lost.
        true => (1, 9),
        false => {
            let shortest = format!("{f:e}");
            let n = shortest
                .bytes()
                .take_while(|&b| b != b'e')
                .filter(u8::is_ascii_digit)
                .count();
            (n.max(1), 17)
        }
    };
    let round = |digits: usize| format!("{:.*e}", digits - 1, f);
    let exact = |s: &str| match read_back(s) {
        p if float4 => p as f32 == f as f32 && !binary_midpoint(p, own),
        p => p == f,
    };
    (start..=max)
        .map(round)
        .find(|s| exact(s) && !decimal_midpoint(s, own))
        .unwrap_or_else(|| round(max))
}

/// A decimal Rust printed (`{:.*e}`), read back as the nearest f64.
#[cfg(not(target_arch = "wasm32"))]
fn read_back(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// On wasm32 by the JavaScript engine's `parseFloat`, correctly rounded for
/// up to 20 significant digits (these have at most 17): Rust's parser
/// brings a 10 KB table of powers of five that gzip cannot shrink, 18 KB of
/// the gzipped module with its code (issue 19).
#[cfg(target_arch = "wasm32")]
fn read_back(s: &str) -> f64 {
    js_sys::parse_float(s)
}

/// Whether a·2^a2 (a > 0) equals a midpoint between the float `own` and a
/// neighbour, k·2^p with k odd, taken `scale` times.
fn hits_midpoint(a: u128, a2: i64, scale: u128, (m, e, narrow_below): Parts) -> bool {
    let below = match narrow_below {
        true => (4 * m - 1, e - 2),
        false => (2 * m - 1, e - 1),
    };
    let z = a.trailing_zeros();
    [(2 * m + 1, e - 1), below]
        .into_iter()
        .any(|(k, p)| a >> z == u128::from(k) * scale && a2 + i64::from(z) == i64::from(p))
}

/// Whether the f64 `p` is exactly a midpoint of the f32 `own`.
fn binary_midpoint(p: f64, own: Parts) -> bool {
    let (m, e, _) = parts(p, false);
    m != 0 && hits_midpoint(m.into(), e.into(), 1, own)
}

/// Whether the decimal `sci` (`{:e}` form) is exactly a midpoint of `own`.
fn decimal_midpoint(sci: &str, own: Parts) -> bool {
    let (mantissa, exp) = sci
        .trim_start_matches('-')
        .split_once('e')
        .unwrap_or_default();
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let (Ok(d), Ok(exp)) = (digits.parse::<u64>(), exp.parse::<i32>()) else {
        return false;
    };
    // d·10^q = k·2^p needs 5^|q| to divide d or k (both below 2^57): |q| ≤ 27
    // suffices, and keeps every product below 2^120.
    let q = exp - (digits.len() as i32 - 1);
    if d == 0 || q.unsigned_abs() > 27 {
        return false;
    }
    let five = 5u128.pow(q.unsigned_abs());
    match q >= 0 {
        // d·5^q·2^q = k·2^p
        true => hits_midpoint(u128::from(d) * five, q.into(), 1, own),
        // d·2^q = k·5^-q·2^p
        false => hits_midpoint(d.into(), q.into(), five, own),
    }
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
            // As the server prints these float4 values.
            (16777216.0, "1.6777216e+07"),
            (1e-45, "1e-45"),
            (7e-45, "7e-45"),
            (1.17549435e-38, "1.1754944e-38"),
            (0.3, "0.3"),
            (-0.3, "-0.3"),
        ] {
            assert_eq!(float((f as f32).into(), true), text, "{f:e}");
        }
    }
}
