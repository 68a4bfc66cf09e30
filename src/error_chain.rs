//! An error told with its causes (`outer: cause: root cause`), for logs and the command line:
//! typed errors keep their source, and this is where the sources get read.

use std::fmt;

pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut told = self.0.to_string();
        f.write_str(&told)?;
        let mut cause = self.0.source();
        while let Some(next) = cause {
            let text = next.to_string();
            // Some errors repeat their source's text in their own.
            if !told.contains(&text) {
                write!(f, ": {text}")?;
                told = text;
            }
            cause = next.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("checkout failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn tells_every_cause_once() {
        let error = Outer(std::io::Error::other("connection reset"));
        assert_eq!(
            ErrorChain(&error).to_string(),
            "checkout failed: connection reset"
        );
    }
}
