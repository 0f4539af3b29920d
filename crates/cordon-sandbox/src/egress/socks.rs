//! SOCKS5 (fast-socks5's server protocol, no authentication): CONNECT only, judged like an HTTP
//! CONNECT, tunnel included. BIND and UDP ASSOCIATE are refused: UDP has nowhere to go.

use std::sync::Arc;

use cordon_core::hosts::Host;
use fast_socks5::server::Socks5ServerProtocol;
use fast_socks5::util::target_addr::TargetAddr;
use fast_socks5::{ReplyError, Socks5Command};
use tokio::net::TcpStream;

use super::decision::{Destination, Refusal};
use super::proxy::{Opened, Shared, HANDSHAKE_TIMEOUT, UNSPECIFIED};
use super::Channel;

pub(super) async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let request = async {
        let protocol = Socks5ServerProtocol::accept_no_auth(stream).await.ok()?;
        protocol.read_command().await.ok()
    };
    let Ok(Some((protocol, command, target))) =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, request).await
    else {
        return;
    };
    let (host, port, destination) = match &target {
        TargetAddr::Domain(name, port) => (name.clone(), *port, Destination::parse(name, *port)),
        TargetAddr::Ip(address) => {
            let destination = Destination {
                host: Host::Ip(address.ip()),
                port: address.port(),
            };
            (
                destination.host.to_string(),
                address.port(),
                Ok(destination),
            )
        }
    };
    if command != Socks5Command::TCPConnect {
        let refusal = Refusal::Unsupported(format!(
            "SOCKS5 {command:?} is not supported; only CONNECT is"
        ));
        shared.refuse(Channel::Socks5, Some((&host, port)), &refusal);
        let _ = protocol.reply_error(&ReplyError::CommandNotSupported).await;
        return;
    }
    let (upstream, destination, slot) = match shared
        .open(Channel::Socks5, (&host, port), destination)
        .await
    {
        Ok(opened) => opened,
        Err(Opened::Refused(_)) => {
            let _ = protocol
                .reply_error(&ReplyError::ConnectionNotAllowed)
                .await;
            return;
        }
        Err(Opened::Failed(_)) => {
            let _ = protocol.reply_error(&ReplyError::HostUnreachable).await;
            return;
        }
    };
    let Ok(client) = protocol.reply_success(UNSPECIFIED).await else {
        shared.fail(&slot, "the client left before the tunnel opened".into());
        return;
    };
    shared.tunnel(client, upstream, &destination, slot).await;
}
