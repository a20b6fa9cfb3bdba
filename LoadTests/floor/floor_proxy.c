/* The least a front can do: forward one TCP client's bytes to a backend over
 * a unix socket and the backend's answer back, with blocking reads and
 * writes, one connection at a time. Not a proxy to use (one read per request
 * and per response, no concurrency): bench-goals measures it, with
 * floor_server.py --unix behind it, as the floor of a two-process design.
 *
 *   floor_proxy PORT SOCKET_PATH
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_backend(const char *path) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    for (int attempt = 0; attempt < 300; attempt++) { /* the backend imports the app first */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) return fd;
        close(fd);
        usleep(100000);
    }
    fprintf(stderr, "floor_proxy: no backend at %s\n", path);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: floor_proxy PORT SOCKET_PATH\n");
        return 2;
    }
    int backend = connect_backend(argv[2]);
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 16) != 0) {
        perror("floor_proxy: listen");
        return 1;
    }
    static char buffer[1 << 16];
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ssize_t n;
        while ((n = read(client, buffer, sizeof buffer)) > 0) {
            if (write(backend, buffer, n) != n) return 1;
            if ((n = read(backend, buffer, sizeof buffer)) <= 0) return 1;
            if (write(client, buffer, n) != n) break;
        }
        close(client);
    }
}
