/*
 * An upgrade request exactly as Chromium 156 (headless, Debian 12) sent it to a listening
 * socket on 127.0.0.1, from a page served by another local port that ran
 * new WebSocket("ws://127.0.0.1:42849/echo?room=7", ["chat"]). Captured byte for byte;
 * only split into lines here. Its Sec-WebSocket-Accept, computed apart from libws (Python's
 * hashlib and base64), is CHROMIUM_ACCEPT.
 */
#ifndef CHROMIUM_REQUEST_H
#define CHROMIUM_REQUEST_H

static const char chromium_request[] =
    "GET /echo?room=7 HTTP/1.1\r\n"
    "Host: 127.0.0.1:42849\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://127.0.0.1:42361\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: aTt2Xau0B59n4X+L0uPPgw==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

#define CHROMIUM_ACCEPT "AxA+v4PwbOkwf8+1GfFCK5/zOXE="

#endif /* CHROMIUM_REQUEST_H */
