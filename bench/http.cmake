# Browser events over the broker's WebSocket.
