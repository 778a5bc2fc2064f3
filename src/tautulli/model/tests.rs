//! Tests of the response shapes: lenient decoding of real and hostile rows, and their
//! conversion into sessions, users and places. Kept apart so the shapes read on one page.

use super::*;

fn decode_rows(json: &str) -> Vec<MaybeRow<HistoryRow>> {
    let page: Page<HistoryRow> = serde_json::from_str(json).expect("page decodes");
    page.data
}

fn row(json: &str) -> HistoryRow {
    match decode_rows(&format!("{{\"data\":[{json}]}}")).pop() {
        Some(MaybeRow::Row(r)) => r,
        other => panic!("not a row: {other:?}"),
    }
}

const NOW: i64 = 1_800_000_000;

#[test]
fn numbers_as_strings_nulls_and_empty_strings_decode() {
    let r = row(r#"{"row_id":"17","user_id":"42","started":"1789452318","stopped":null,
        "play_duration":"142","paused_counter":"","ip_address":"","machine_id":null,
        "platform":7,"relayed":"1","full_title":""}"#);
    assert_eq!(r.row_id, Some(17));
    assert_eq!(r.user_id, Some(42));
    assert_eq!(r.started, Some(1_789_452_318));
    assert_eq!(r.play_duration, Some(142));
    assert_eq!(r.paused_counter, None);
    assert_eq!(r.ip_address, None);
    assert_eq!(r.platform.as_deref(), Some("7"));
    assert_eq!(r.relayed, Some(1));
    assert_eq!(r.full_title, None);
}

#[test]
fn wrong_types_become_none_instead_of_failing_the_page() {
    let r = row(r#"{"user_id":{"a":1},"started":[1,2],"ip_address":true,"play_duration":1.9e3}"#);
    assert_eq!(r.user_id, None);
    assert_eq!(r.started, None);
    assert_eq!(r.ip_address.as_deref(), Some("true"));
    assert_eq!(r.play_duration, Some(1900));
}

#[test]
fn non_object_rows_are_unusable_not_fatal() {
    let rows = decode_rows(r#"{"recordsFiltered":"3","data":[1,"x",null,{"user_id":5}]}"#);
    assert_eq!(rows.len(), 4);
    assert!(matches!(rows[3], MaybeRow::Row(_)));
    assert_eq!(rows.iter().filter(|r| matches!(r, MaybeRow::Unusable)).count(), 3);
}

#[test]
fn a_row_with_a_key_given_twice_is_one_undecodable_row_and_the_page_goes_on() {
    let rows = decode_rows(
        r#"{"data":[{"user_id":1,"started":5},
            {"user_id":2,"started":6,"user_id":3,"ignored":{"a":[1,{"b":2}]},"row_id":9},
            {"row_id":7,"started":8,"row_id":7},
            {"user_id":4,"started":7}]}"#,
    );
    let users: Vec<Option<i64>> = rows
        .iter()
        .map(|r| match r {
            MaybeRow::Row(r) => r.user_id,
            _ => None,
        })
        .collect();
    assert_eq!(users, [Some(1), None, None, Some(4)]);
    assert!(matches!(rows[1], MaybeRow::Undecodable), "{rows:?}");
    assert!(matches!(rows[2], MaybeRow::Undecodable), "{rows:?}");
    // An unknown key twice is harmless; broken JSON still fails the page.
    assert!(matches!(
        decode_rows(r#"{"data":[{"x":1,"x":2,"user_id":5}]}"#)[0],
        MaybeRow::Row(HistoryRow { user_id: Some(5), .. })
    ));
    assert!(serde_json::from_str::<Page<HistoryRow>>(r#"{"data":[{"user_id":1,"user_id":2,]}"#).is_err());
    assert!(serde_json::from_str::<Page<HistoryRow>>(r#"{"data":[{"user_id":1,"user_id":[}]}"#).is_err());
}

#[test]
fn null_data_is_an_empty_page() {
    let page: Page<HistoryRow> = serde_json::from_str(r#"{"recordsFiltered":null,"data":null}"#).unwrap();
    assert!(page.data.is_empty());
    assert_eq!(page.records_filtered, None);
}

#[test]
fn a_real_captured_history_row_converts_to_a_session() {
    let text = include_str!("../../../tests/data/get_history_ungrouped_p1.json");
    let env: serde_json::Value = serde_json::from_str(text).unwrap();
    let page: Page<HistoryRow> = serde_json::from_value(env["response"]["data"].clone()).unwrap();
    assert_eq!(page.records_filtered, Some(18992));
    let mut strings = Strings::default();
    let mut stats = DecodeStats::default();
    let sessions: Vec<Session> = page
        .data
        .into_iter()
        .filter_map(|r| match r {
            MaybeRow::Row(r) => r.into_session(&mut strings, NOW, &mut stats).ok(),
            MaybeRow::Unusable | MaybeRow::Undecodable => None,
        })
        .collect();
    assert_eq!(sessions.len(), 3);
    let s = sessions[0];
    assert_eq!(
        (s.row_id, s.user_id, s.started, s.stopped(), s.play_seconds),
        (1, 4456897, 1789452318, 1789452460, 142)
    );
    assert_eq!(s.ip, Some("78.67.80.140".parse().unwrap()));
    assert_eq!(strings.get(s.machine), "27fba88f-bc32-640c-95ca-2198710d0729");
    assert_eq!(strings.get(s.title), "Burning Lonely - Last Falcon Silver");
}

#[test]
fn rows_without_user_or_start_or_with_absurd_times_are_skipped() {
    let mut strings = Strings::default();
    let mut stats = DecodeStats::default();
    let mut conv = |json: &str| row(json).into_session(&mut strings, NOW, &mut stats);
    assert_eq!(conv(r#"{"started":1789452318}"#), Err(SkipReason::NoUser));
    assert_eq!(conv(r#"{"user_id":1}"#), Err(SkipReason::NoStart));
    assert_eq!(conv(r#"{"user_id":1,"started":12}"#), Err(SkipReason::AbsurdTime));
    assert_eq!(
        conv(r#"{"user_id":1,"started":99999999999}"#),
        Err(SkipReason::AbsurdTime)
    );
    assert_eq!(
        conv(r#"{"user_id":1,"started":1789452318,"state":"playing"}"#),
        Err(SkipReason::LiveRow)
    );
}

#[test]
fn negative_durations_and_garbage_addresses_are_repaired_and_counted() {
    let mut strings = Strings::default();
    let mut stats = DecodeStats::default();
    let s = row(r#"{"user_id":1,"started":1789452318,"play_duration":-50,"ip_address":"999.1.1.1"}"#)
        .into_session(&mut strings, NOW, &mut stats)
        .unwrap();
    assert_eq!((s.play_seconds, s.ip), (0, None));
    assert_eq!((stats.negative_duration, stats.bad_ip), (1, 1));
}

#[test]
fn absurd_durations_and_stop_times_are_cut_and_counted() {
    let mut strings = Strings::default();
    let mut stats = DecodeStats::default();
    let mut conv = |json: &str| row(json).into_session(&mut strings, NOW, &mut stats).unwrap();
    let s = conv(r#"{"user_id":1,"started":1789452318,"play_duration":0,"stopped":99999999999}"#);
    assert_eq!(s.stopped(), 1789452318, "a stop decades later is not believed");
    let s = conv(r#"{"user_id":1,"started":1789452318,"play_duration":4000000000,"paused_counter":9e15}"#);
    assert_eq!(s.play_seconds as i64, MAX_SESSION_SECONDS);
    assert_eq!(s.paused_seconds as i64, MAX_SESSION_SECONDS);
    let s =
        conv(r#"{"user_id":1,"started":1789452318,"play_duration":600,"paused_counter":30000,"stopped":1789482918}"#);
    assert_eq!(s.stopped(), 1789482918, "a long pause is plausible and kept");
    assert_eq!(stats.absurd_duration, 2);
}

#[test]
fn addresses_parse_with_brackets_zones_and_spaces() {
    assert_eq!(parse_ip(" 10.0.0.1 "), Some("10.0.0.1".parse().unwrap()));
    assert_eq!(parse_ip("[2001:db8::1]"), Some("2001:db8::1".parse().unwrap()));
    assert_eq!(parse_ip("fe80::1%eth0"), Some("fe80::1".parse().unwrap()));
    assert_eq!(parse_ip("not-an-ip"), None);
}

#[test]
fn geoip_lookup_sample_becomes_a_place() {
    let text = include_str!("../../../tests/data/get_geoip_lookup_public.json");
    let env: serde_json::Value = serde_json::from_str(text).unwrap();
    let geo: GeoRow = serde_json::from_value(env["response"]["data"].clone()).unwrap();
    let p = geo.into_place().unwrap();
    assert_eq!(p.label(), "Chicago, Illinois, United States");
    assert_eq!(p.accuracy_radius_km, None);
}
