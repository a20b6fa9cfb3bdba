#ifndef TIDEPOOL_CEVENT_SHIM_H
#define TIDEPOOL_CEVENT_SHIM_H
/* Take glibc's default feature macros first, as the CPython shim does, so fd_set
   is one type across clang modules (clean builds failed without it). */
#include <sys/types.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#endif
