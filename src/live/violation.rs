//! RFC 6455 close codes for a client that breaks the WebSocket protocol, so clients and proxies
//! can tell what happened. tungstenite refuses the frame and leaves the connection open for
//! writing; the socket then sends the close frame these codes name. (A close frame with a code
//! no endpoint may send is answered by tungstenite itself with 1002.)

use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::tungstenite::error::ProtocolError;

pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_INVALID_DATA: u16 = 1007;
pub const CLOSE_TOO_BIG: u16 = 1009;

/// The close to send after a failed read, or `None` when the connection is simply gone.
pub fn close_for(error: Error) -> Option<(u16, &'static str)> {
    match error {
        Error::Utf8(_) => Some((CLOSE_INVALID_DATA, "invalid UTF-8")),
        Error::Capacity(_) => Some((CLOSE_TOO_BIG, "message too big")),
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) | Error::AttackAttempt => Some((CLOSE_PROTOCOL_ERROR, "protocol error")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::error::CapacityError;

    use super::*;

    #[test]
    fn each_violation_has_its_code() {
        let code = |e: Error| close_for(e).map(|(c, _)| c);
        assert_eq!(code(Error::Utf8("bad".into())), Some(1007));
        assert_eq!(
            code(Error::Capacity(CapacityError::MessageTooLong {
                size: 9,
                max_size: 1
            })),
            Some(1009)
        );
        assert_eq!(
            code(Error::Protocol(ProtocolError::UnmaskedFrameFromClient)),
            Some(1002)
        );
        assert_eq!(
            code(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)),
            None
        );
        assert_eq!(code(Error::ConnectionClosed), None);
        assert_eq!(close_for(Error::Io(std::io::Error::other("x"))), None);
    }
}
