use crate::{AgentMsg, PREFIX};

/// Longest line the host accepts, prefix included. Longer lines are dropped whole.
pub const MAX_LINE: usize = 1 << 20;

/// What the host makes of one line from the agent's channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A well-formed protocol message.
    Msg(AgentMsg),
    /// A line without the prefix: kernel log, shell output. Kept for failure reports.
    Noise(String),
    /// A line with the prefix that did not parse, or a line over [`MAX_LINE`].
    Malformed(String),
}

/// Incremental, bounded line splitter and decoder for untrusted agent output.
///
/// Feed it any bytes in any chunking; it never panics and never holds more than
/// [`MAX_LINE`] bytes of a pending line.
#[derive(Debug, Default)]
pub struct LineParser {
    buf: Vec<u8>,
    /// True while skipping the rest of an over-long line.
    discarding: bool,
}

impl LineParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes `bytes` and returns the events of every line completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete { &chunk[..chunk.len() - 1] } else { chunk };
            if self.discarding {
                if complete {
                    self.discarding = false;
                }
                continue;
            }
            if self.buf.len() + body.len() > MAX_LINE {
                self.buf.clear();
                out.push(Event::Malformed(format!("line longer than {MAX_LINE} bytes dropped")));
                self.discarding = !complete;
                continue;
            }
            self.buf.extend_from_slice(body);
            if complete {
                let line = std::mem::take(&mut self.buf);
                out.push(decode_line(&line));
            }
        }
        out
    }

    /// Returns the event of a final line that had no newline (at end of stream).
    pub fn finish(&mut self) -> Option<Event> {
        if self.buf.is_empty() || self.discarding {
            return None;
        }
        let line = std::mem::take(&mut self.buf);
        Some(decode_line(&line))
    }
}

fn decode_line(raw: &[u8]) -> Event {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches('\r');
    match text.find(PREFIX) {
        None => Event::Noise(text.to_string()),
        Some(idx) => {
            let body = &text[idx + PREFIX.len()..];
            match serde_json::from_str::<AgentMsg>(body) {
                Ok(msg) => Event::Msg(msg),
                Err(e) => Event::Malformed(format!("{e}: {}", truncate(body, 200))),
            }
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary: how the
/// host cuts any text a guest sent.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
