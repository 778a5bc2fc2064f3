//! Reading a paged answer while it arrives: the rows of `response.data.data` are decoded
//! one by one as their bytes complete, and everything else (the envelope, with that list
//! left empty) is kept to be decoded at the end. A page is then never held whole, as text
//! or as rows, however many rows it has.
//!
//! Outside the list only JSON's structure is followed (containers, strings, escapes and
//! the keys on the way to the list); whatever is kept is decoded by serde afterwards, so
//! a malformed answer still fails there. Inside it, serde reads each row from the bytes
//! so far; a row they do not complete yet waits for the next bytes.

use serde::de::DeserializeOwned;

use super::lenient::MaybeRow;

/// The keys leading to the list of rows: `{"response": {"data": {"data": [...]}}}`.
const PATH: [&[u8]; 3] = [b"response", b"data", b"data"];

/// Containers nested deeper than this end the split (serde's own limit is 128).
const MAX_DEPTH: usize = 128;

/// Why a split stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// One row, or what surrounds the rows, passed the byte limit.
    TooLarge,
    /// Containers nested deeper than 128.
    TooDeep,
    /// A row that is not JSON.
    Syntax(String),
}

#[derive(Debug)]
struct Frame {
    array: bool,
    /// On the way to the rows: each container of [`PATH`], by the key it is under.
    on_path: bool,
    /// In an object, the next string is a key.
    expect_key: bool,
    /// In an object, the last key was the next one of [`PATH`].
    key_matches: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Splitter<T> {
    stack: Vec<Frame>,
    in_string: bool,
    escape: bool,
    /// The key being read, while it can still be one of [`PATH`].
    key: Option<Vec<u8>>,
    /// Inside the list of rows: bytes not decoded yet.
    in_rows: bool,
    /// The list of rows was found (a second list at the same place is not rows).
    rows_found: bool,
    /// In the list, a row was read and its comma not yet.
    after_row: bool,
    pending: Vec<u8>,
    /// A row that did not complete is tried again once `pending` holds this many bytes:
    /// twice what it held, so a huge row is not parsed again for every chunk.
    retry_at: usize,
    rows: Vec<MaybeRow<T>>,
    skeleton: Vec<u8>,
    limit: usize,
}

impl<T: DeserializeOwned> Splitter<T> {
    /// A splitter that holds at most `limit` bytes: one row and everything but the rows.
    pub fn new(limit: usize) -> Splitter<T> {
        Splitter {
            stack: Vec::new(),
            in_string: false,
            escape: false,
            key: None,
            in_rows: false,
            rows_found: false,
            after_row: false,
            pending: Vec::new(),
            retry_at: 0,
            rows: Vec::new(),
            skeleton: Vec::new(),
            limit,
        }
    }

    /// Feed the next bytes of the answer.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), SplitError> {
        let mut i = 0;
        while i < chunk.len() {
            if self.in_rows {
                self.pending.extend_from_slice(&chunk[i..]);
                return self.read_rows(false);
            }
            // Most of the envelope is the inside of strings: copy it up to its next
            // quote or backslash at once (a key on the path is read byte by byte).
            if self.in_string && !self.escape && self.key.is_none() {
                let rest = &chunk[i..];
                let plain = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                self.keep(&rest[..plain])?;
                i += plain;
                if i == chunk.len() {
                    break;
                }
            }
            self.keep(&chunk[i..=i])?;
            self.structure(chunk[i])?;
            i += 1;
        }
        Ok(())
    }

    /// The answer is complete: decode what it ended with.
    pub fn finish(&mut self) -> Result<(), SplitError> {
        if self.in_rows {
            self.read_rows(true)?;
        }
        Ok(())
    }

    /// The rows decoded so far.
    pub fn take_rows(&mut self) -> Vec<MaybeRow<T>> {
        std::mem::take(&mut self.rows)
    }

    /// Everything but the rows: the answer with its list of rows empty. An answer cut in
    /// its rows is left without the list's end (and then does not parse).
    pub fn into_skeleton(self) -> Vec<u8> {
        self.skeleton
    }

    fn keep(&mut self, bytes: &[u8]) -> Result<(), SplitError> {
        if self.skeleton.len() + self.pending.len() + bytes.len() > self.limit {
            return Err(SplitError::TooLarge);
        }
        self.skeleton.extend_from_slice(bytes);
        Ok(())
    }

    /// Decode the rows `pending` completes. A row that ends exactly where the bytes end,
    /// or fails, waits for more unless `at_end` (a number may go on, or be cut). At the list's end, the bytes
    /// after it go back to [`Splitter::feed`].
    fn read_rows(&mut self, at_end: bool) -> Result<(), SplitError> {
        // `retry_at` is at most the limit, so bytes past it are always looked at.
        if !at_end && self.pending.len() < self.retry_at {
            return Ok(());
        }
        let mut p = 0;
        let len = self.pending.len();
        let after_list = loop {
            while p < len && self.pending[p].is_ascii_whitespace() {
                p += 1;
            }
            if p == len {
                break None;
            }
            match (self.pending[p], self.after_row) {
                (b']', _) => break Some(p + 1),
                (b',', true) => {
                    (self.after_row, p) = (false, p + 1);
                    continue;
                }
                (b',', false) => return Err(SplitError::Syntax("a comma where a row was expected".into())),
                (_, true) => return Err(SplitError::Syntax("a row without a comma before it".into())),
                _ => {}
            }
            let mut one = serde_json::Deserializer::from_slice(&self.pending[p..]).into_iter::<MaybeRow<T>>();
            match one.next() {
                None => break None,
                Some(Ok(row)) => {
                    let end = p + one.byte_offset();
                    if end - p > self.limit {
                        return Err(SplitError::TooLarge);
                    }
                    if end == len && !at_end {
                        break None;
                    }
                    self.rows.push(row);
                    (self.after_row, p) = (true, end);
                }
                // A row cut by the end of the bytes so far: serde says so for most cuts, but
                // a number cut after its `-`, `.` or `e` is "invalid". Until the answer
                // ends, any failure may be a cut; the limit bounds the wait.
                Some(Err(e)) if e.is_eof() || !at_end => break None,
                Some(Err(e)) => return Err(SplitError::Syntax(e.to_string())),
            }
        };
        match after_list {
            None => {
                self.pending.drain(..p);
                if self.skeleton.len() + self.pending.len() > self.limit {
                    return Err(SplitError::TooLarge);
                }
                if self.pending.capacity() > (1 << 20).max(4 * self.pending.len()) {
                    self.pending.shrink_to_fit();
                }
                self.retry_at = (2 * self.pending.len()).min(self.limit);
                Ok(())
            }
            Some(after) => {
                let rest = self.pending.split_off(after);
                (self.pending, self.retry_at) = (Vec::new(), 0);
                self.in_rows = false;
                self.keep(b"]")?;
                self.stack.pop();
                self.feed(&rest)
            }
        }
    }

    /// Follow containers, strings and keys.
    fn structure(&mut self, b: u8) -> Result<(), SplitError> {
        if self.in_string {
            if self.escape {
                self.escape = false;
                self.key = None;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                if let Some(key) = self.key.take() {
                    let depth = self.stack.len() - 1;
                    if let Some(top) = self.stack.last_mut() {
                        top.key_matches = PATH.get(depth).is_some_and(|p| *p == key.as_slice());
                    }
                }
            } else if let Some(key) = &mut self.key {
                if key.len() >= 16 {
                    self.key = None;
                } else {
                    key.push(b);
                }
            }
            return Ok(());
        }
        match b {
            b'"' => {
                self.in_string = true;
                let top = self.stack.last_mut();
                if let Some(top) = top.filter(|t| !t.array && t.expect_key) {
                    top.expect_key = false;
                    top.key_matches = false;
                    self.key = top.on_path.then(Vec::new);
                }
            }
            b'{' | b'[' => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(SplitError::TooDeep);
                }
                let on_path = match self.stack.last() {
                    None => true,
                    Some(parent) => parent.on_path && !parent.array && parent.key_matches,
                };
                let array = b == b'[';
                self.stack.push(Frame {
                    array,
                    on_path,
                    expect_key: !array,
                    key_matches: false,
                });
                if array && on_path && self.stack.len() == PATH.len() + 1 && !self.rows_found {
                    (self.in_rows, self.rows_found) = (true, true);
                }
            }
            b'}' | b']' => {
                self.stack.pop();
            }
            b',' => {
                if let Some(top) = self.stack.last_mut().filter(|t| !t.array) {
                    top.expect_key = true;
                    top.key_matches = false;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as their JSON (`-` for one that is not an object), and the skeleton.
    fn split(text: &str, chunk: usize) -> (Vec<String>, String) {
        let mut s = Splitter::<serde_json::Map<String, serde_json::Value>>::new(1 << 20);
        let mut rows = Vec::new();
        let mut take = |s: &mut Splitter<_>| {
            rows.extend(s.take_rows().into_iter().map(|r| match r {
                MaybeRow::Row(m) => serde_json::Value::Object(m).to_string(),
                MaybeRow::Unusable | MaybeRow::Undecodable => "-".to_string(),
            }))
        };
        for part in text.as_bytes().chunks(chunk.max(1)) {
            s.feed(part).unwrap();
            take(&mut s);
        }
        s.finish().unwrap();
        take(&mut s);
        (rows, String::from_utf8(s.into_skeleton()).unwrap())
    }

    const ANSWER: &str = r#"{"response": {"result": "success", "message": null, "data": {"recordsFiltered": 3, "data": [{"row_id": 1, "full_title": "a \"quoted\" ], [title} \\"}, 42 , {"row_id": 2, "nested": {"data": [1, 2]}, "x": -12.5e3}, 421], "draw": 1}}}"#;

    #[test]
    fn rows_come_out_whole_at_any_chunk_size_and_the_rest_keeps_an_empty_list() {
        for chunk in [1, 2, 3, 7, 64, ANSWER.len()] {
            let (rows, skeleton) = split(ANSWER, chunk);
            assert_eq!(
                rows,
                [
                    r#"{"full_title":"a \"quoted\" ], [title} \\","row_id":1}"#,
                    "-",
                    r#"{"nested":{"data":[1,2]},"row_id":2,"x":-12500.0}"#,
                    "-"
                ],
                "chunks of {chunk}"
            );
            assert_eq!(
                skeleton,
                r#"{"response": {"result": "success", "message": null, "data": {"recordsFiltered": 3, "data": [], "draw": 1}}}"#
            );
        }
    }

    #[test]
    fn only_the_list_under_response_data_data_is_split() {
        for text in [
            r#"{"response": {"data": {"rows": [{"a": 1}]}}}"#,
            r#"{"response": {"data": [{"a": 1}]}}"#,
            r#"{"other": {"data": {"data": [{"a": 1}]}}}"#,
            r#"{"response": {"data": {"data": {"a": 1}}}}"#,
            r#"{"response": {"data": {"d\u0061ta": [{"a": 1}]}}}"#,
            r#"[{"response": {"data": {"data": [{"a": 1}]}}}]"#,
            "<html><body>{Bad Gateway}</body></html>",
        ] {
            let (rows, skeleton) = split(text, 5);
            assert!(rows.is_empty(), "{text}: {rows:?}");
            assert_eq!(skeleton, text);
        }
        // A key that only starts like one on the path, or a value that is one.
        let (rows, _) = split(
            r#"{"response": {"dat": 1, "x": "data", "data": {"data": [{"a": 7}]}}}"#,
            4,
        );
        assert_eq!(rows, [r#"{"a":7}"#]);
        // A second list where the rows were is not rows.
        let (rows, skeleton) = split(r#"{"response": {"data": {"data": [], "data": [{"a": 1}]}}}"#, 3);
        assert!(rows.is_empty());
        assert!(skeleton.ends_with(r#""data": [{"a": 1}]}}}"#), "{skeleton}");
    }

    #[test]
    fn a_row_or_envelope_past_the_limit_and_nesting_past_the_depth_stop_the_split() {
        let big = format!(
            r#"{{"response": {{"data": {{"data": [{{"t": "{}"}}]}}}}}}"#,
            "x".repeat(100)
        );
        // A row past the limit, whether it ends in the bytes fed or not.
        let mut s = Splitter::<serde_json::Value>::new(40);
        assert_eq!(s.feed(big.as_bytes()), Err(SplitError::TooLarge));
        let mut s = Splitter::<serde_json::Value>::new(40);
        assert_eq!(s.feed(&big.as_bytes()[..100]), Err(SplitError::TooLarge));
        let mut s = Splitter::<serde_json::Value>::new(16);
        assert_eq!(s.feed(" ".repeat(17).as_bytes()), Err(SplitError::TooLarge));
        let mut s = Splitter::<serde_json::Value>::new(1 << 20);
        assert_eq!(s.feed("[".repeat(MAX_DEPTH + 1).as_bytes()), Err(SplitError::TooDeep));
        // Many small rows never pass a limit one row at a time.
        let mut s = Splitter::<serde_json::Value>::new(64);
        s.feed(br#"{"response": {"data": {"data": ["#).unwrap();
        for _ in 0..1000 {
            s.feed(br#"{"row_id": 1},"#).unwrap();
            assert_eq!(s.take_rows().len(), 1);
        }
    }

    #[test]
    fn a_long_row_fed_in_small_chunks_is_read_once_it_completes() {
        // A row of more than half the limit, followed by more rows: within the limit.
        let mut s = Splitter::<serde_json::Value>::new(1000);
        let text = format!(
            r#"{{"response": {{"data": {{"data": [{{"t": "{}"}}, {}1]}}}}}}"#,
            "x".repeat(700),
            "1, ".repeat(50)
        );
        for part in text.as_bytes().chunks(10) {
            s.feed(part).unwrap();
        }
        s.finish().unwrap();
        assert_eq!(s.take_rows().len(), 52);
        let row = format!(r#"{{"t": "{}"}}"#, "x".repeat(100_000));
        let text = format!(r#"{{"response": {{"data": {{"data": [{row}, {{"a": 1}}]}}}}}}"#);
        let (rows, skeleton) = split(&text, 7);
        assert_eq!(rows.len(), 2);
        assert!(rows[1] == r#"{"a":1}"#, "{}", rows[1]);
        assert_eq!(skeleton, r#"{"response": {"data": {"data": []}}}"#);
    }

    #[test]
    fn a_row_that_is_not_json_stops_the_split_and_a_cut_one_is_not_a_row() {
        // Any failure may be a cut until the answer ends.
        let mut s = Splitter::<serde_json::Value>::new(1 << 20);
        s.feed(br#"{"response": {"data": {"data": [{"a": 1}, {"b" 2}]}}}"#)
            .unwrap();
        assert_eq!(s.take_rows().len(), 1);
        let e = s.finish();
        assert!(matches!(e, Err(SplitError::Syntax(_))), "{e:?}");
        // Rows are separated by exactly one comma, as in JSON.
        for bad in [r#"[{"a": 1} {"b": 2}]"#, r#"[{"a": 1},, {"b": 2}]"#, r#"[, {"a": 1}]"#] {
            let mut s = Splitter::<serde_json::Value>::new(1 << 20);
            let text = format!(r#"{{"response": {{"data": {{"data": {bad}}}}}}}"#);
            let e = s.feed(text.as_bytes()).and_then(|()| s.finish());
            assert!(matches!(e, Err(SplitError::Syntax(_))), "{bad}: {e:?}");
        }
        // And the limit bounds the wait.
        let mut s = Splitter::<serde_json::Value>::new(64);
        s.feed(br#"{"response": {"data": {"data": [{"b" 2}"#).unwrap();
        assert_eq!(s.feed(&[b' '; 64]), Err(SplitError::TooLarge));
        let (rows, skeleton) = split(r#"{"response": {"data": {"data": [{"a": 1}, {"b": "#, 3);
        assert_eq!(rows, [r#"{"a":1}"#]);
        assert_eq!(skeleton, r#"{"response": {"data": {"data": ["#);
    }
}
