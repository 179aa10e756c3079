# The broker's HTTP and WebSocket server: tests.
