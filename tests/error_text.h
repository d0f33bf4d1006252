/*
 * What the texts libws writes are in this build: with WS_NO_ERROR_STRINGS
 * (-Derror_strings=false, docs/size.md) ws_strerror has one fixed text for every error (so
 * do the bodies of error responses and the reasons of the close frames libws sends), and
 * every refusal libws writes has the empty reason phrase ("HTTP/1.1 400 \r\n").
 */
#ifndef WS_TEST_ERROR_TEXT_H
#define WS_TEST_ERROR_TEXT_H

#ifdef WS_NO_ERROR_STRINGS
#define TEST_MESSAGE(text) "error (messages not built in: see the WS_E_* code)"
#define TEST_PHRASE(text)  ""
#else
#define TEST_MESSAGE(text) text
#define TEST_PHRASE(text)  text
#endif

#endif
