//! Every reader of host output or of a user's file returns what it read or an error —
//! never a panic — whatever the text: arbitrary bytes, and valid inputs cut or spliced.

use fearless_platform::eol::{Distro, EMBEDDED_DEBIAN, EMBEDDED_TABLE, EMBEDDED_UBUNTU, Table};
use fearless_platform::{host, os_release};
use proptest::prelude::*;

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
const ANSWER: &str = "@@os-release\nID=debian\nVERSION_ID=\"12\"\n\n@@kernel\n6.1.0\n@@file /usr/share/distro-info/debian.csv\nversion,codename,series,created,release,eol,eol-lts,eol-elts\n12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-07-11,2028-06-30,2033-06-30\n\n@@end\n";

/// `text` cut at `cut` and with `insert` put at `at` (both as fractions of its length).
fn mangle(text: &str, cut: f64, at: f64, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len() as f64;
    let (cut, at) = ((cut * n) as usize, (at * n) as usize);
    let mut s: String = chars[..cut.min(chars.len())].iter().collect();
    let at = at.min(s.chars().count());
    let byte = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
    s.insert_str(byte, insert);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = os_release::parse(&text);
        let _ = host::read(&text);
        let _ = Table::from_json(&text, "f");
        let _ = Table::from_distro_info(Distro::Debian, &text, "f");
        let _ = Table::from_distro_info(Distro::Ubuntu, &text, "f");
    }

    #[test]
    fn mangled_inputs_never_panic(
        cut in 0.0f64..=1.0,
        at in 0.0f64..=1.0,
        insert in prop::sample::select(vec!["", "\"", "'", "=", "\n", "@@end\n", "@@kernel\n", ",", "{", "]", "\u{0}", "é", "\\"]),
    ) {
        let _ = os_release::parse(&mangle(OS_RELEASE, cut, at, insert));
        let _ = host::read(&mangle(ANSWER, cut, at, insert));
        let _ = Table::from_json(&mangle(EMBEDDED_TABLE, cut, at, insert), "f");
        let _ = Table::from_distro_info(Distro::Debian, &mangle(EMBEDDED_DEBIAN, cut, at, insert), "f");
        let _ = Table::from_distro_info(Distro::Ubuntu, &mangle(EMBEDDED_UBUNTU, cut, at, insert), "f");
    }
}
