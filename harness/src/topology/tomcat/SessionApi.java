import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

/**
 * sessionbench's node protocol in a servlet, so a real Tomcat cluster is measured the way the
 * reference nodes are. Each attribute is its own session attribute (a change replicates as
 * one setAttribute, as a Tomcat application's would); values stay JSON text.
 */
public class SessionApi extends HttpServlet {
    private static final String ATTR = "a:";
    private String node;

    @Override
    public void init() {
        node = System.getProperty("sessionbench.node", "tomcat");
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setHeader("x-sessionbench-node", node);
        resp.setHeader("Cache-Control", "no-store");
        String path = req.getRequestURI();
        String method = req.getMethod();
        try {
            if (path.equals("/healthz") && method.equals("GET")) {
                send(resp, 200, "{\"status\":\"ok\",\"node\":" + str(node) + "}");
            } else if (path.equals("/login") && method.equals("POST")) {
                login(req, resp);
            } else if (path.equals("/session") && method.equals("GET")) {
                HttpSession s = current(req, resp);
                if (s != null) {
                    send(resp, 200, view(s));
                }
            } else if (path.startsWith("/session/attrs/") && method.equals("PUT")) {
                setAttr(req, resp, path.substring("/session/attrs/".length()));
            } else if (path.equals("/session/counter") && method.equals("POST")) {
                HttpSession s = current(req, resp);
                if (s != null) {
                    synchronized (s) {
                        s.setAttribute("counter", (Long) s.getAttribute("counter") + 1);
                        bump(s);
                        send(resp, 200, view(s));
                    }
                }
            } else if (path.equals("/logout") && method.equals("POST")) {
                HttpSession s = current(req, resp);
                if (s != null) {
                    s.invalidate();
                    String cookie = getServletContext().getSessionCookieConfig().getName();
                    resp.addHeader("Set-Cookie", cookie + "=; Path=/; Max-Age=0; HttpOnly");
                    send(resp, 200, "{\"logged-out\":true,\"node\":" + str(node) + "}");
                }
            } else {
                error(resp, 404, "not-found");
            }
        } catch (IllegalStateException e) {
            // Invalidated meanwhile (a logout or an expiry on this node or a peer).
            error(resp, 401, "no-session");
        } catch (IllegalArgumentException e) {
            error(resp, 400, "bad-json");
        }
    }

    private void login(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String user = Json.string(Json.field(body(req), "user"));
        if (user == null || user.isEmpty() || user.length() > 256) {
            error(resp, 400, "bad-request");
            return;
        }
        HttpSession old = req.getSession(false);
        if (old != null) {
            old.invalidate();
        }
        HttpSession s = req.getSession(true);
        s.setAttribute("user", user);
        s.setAttribute("counter", 0L);
        s.setAttribute("version", 1L);
        send(resp, 200, view(s));
    }

    private void setAttr(HttpServletRequest req, HttpServletResponse resp, String name) throws IOException {
        if (name.isEmpty() || name.length() > 64 || !name.matches("[A-Za-z0-9_.-]+")) {
            error(resp, 400, "bad-request");
            return;
        }
        String body = body(req);
        String value = Json.field(body, "value");
        String write = Json.string(Json.field(body, "write"));
        if (value == null || write == null || write.isEmpty() || write.length() > 128) {
            error(resp, 400, "bad-json");
            return;
        }
        HttpSession s = current(req, resp);
        if (s == null) {
            return;
        }
        synchronized (s) {
            s.setAttribute(ATTR + name, "{\"value\":" + value + ",\"write\":" + str(write) + "}");
            bump(s);
            send(resp, 200, view(s));
        }
    }

    private static void bump(HttpSession s) {
        s.setAttribute("version", (Long) s.getAttribute("version") + 1);
    }

    /** The request's session, or a 401 already sent. */
    private HttpSession current(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        HttpSession s = req.getSession(false);
        if (s == null || s.getAttribute("user") == null) {
            error(resp, 401, "no-session");
            return null;
        }
        return s;
    }

    private String view(HttpSession s) {
        StringBuilder attrs = new StringBuilder("{");
        List<String> names = new ArrayList<>(Collections.list(s.getAttributeNames()));
        Collections.sort(names);
        for (String n : names) {
            if (n.startsWith(ATTR)) {
                if (attrs.length() > 1) {
                    attrs.append(',');
                }
                attrs.append(str(n.substring(ATTR.length()))).append(':').append(s.getAttribute(n));
            }
        }
        attrs.append('}');
        return "{\"id\":" + str(s.getId()) + ",\"user\":" + str((String) s.getAttribute("user"))
            + ",\"node\":" + str(node) + ",\"counter\":" + s.getAttribute("counter")
            + ",\"attrs\":" + attrs + ",\"version\":" + s.getAttribute("version") + "}";
    }

    private static String body(HttpServletRequest req) throws IOException {
        byte[] bytes = req.getInputStream().readNBytes(1024 * 1024 + 1);
        if (bytes.length > 1024 * 1024) {
            throw new IllegalArgumentException("body too large");
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static void send(HttpServletResponse resp, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        resp.setStatus(status);
        resp.setContentType("application/json");
        // No Content-Length: the answer stays in Tomcat's buffer until the request is done,
        // after the ReplicationValve, so synchronous replication completes before the client
        // sees it (a complete Content-Length would commit the answer at once).
        resp.getOutputStream().write(bytes);
    }

    private void error(HttpServletResponse resp, int status, String error) throws IOException {
        send(resp, status, "{\"error\":" + str(error) + ",\"node\":" + str(node) + "}");
    }

    private static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    /** Just enough JSON: a top-level field's raw text, and a string's value. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        /** The raw JSON text of `name` in the object `text`, or null. */
        static String field(String text, String name) {
            Json j = new Json(text);
            j.ws();
            j.expect('{');
            j.ws();
            if (j.peek() == '}') {
                return null;
            }
            while (true) {
                j.ws();
                String key = j.string();
                j.ws();
                j.expect(':');
                j.ws();
                int start = j.i;
                j.value();
                if (key.equals(name)) {
                    return text.substring(start, j.i);
                }
                j.ws();
                if (j.peek() == ',') {
                    j.i++;
                    continue;
                }
                j.expect('}');
                return null;
            }
        }

        /** The value of a JSON string's text, or null if it is not one. */
        static String string(String raw) {
            if (raw == null || !raw.startsWith("\"")) {
                return null;
            }
            return new Json(raw).string();
        }

        private char peek() {
            if (i >= s.length()) {
                throw new IllegalArgumentException("end of input");
            }
            return s.charAt(i);
        }

        private void expect(char c) {
            if (peek() != c) {
                throw new IllegalArgumentException("expected " + c);
            }
            i++;
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = peek();
                i++;
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\\') {
                    char e = peek();
                    i++;
                    switch (e) {
                        case 'n': b.append('\n'); break;
                        case 't': b.append('\t'); break;
                        case 'r': b.append('\r'); break;
                        case 'b': b.append('\b'); break;
                        case 'f': b.append('\f'); break;
                        case 'u':
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                            break;
                        default: b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
        }

        private void value() {
            char c = peek();
            if (c == '"') {
                string();
            } else if (c == '{' || c == '[') {
                char close = c == '{' ? '}' : ']';
                i++;
                ws();
                if (peek() == close) {
                    i++;
                    return;
                }
                while (true) {
                    ws();
                    if (close == '}') {
                        string();
                        ws();
                        expect(':');
                        ws();
                    }
                    value();
                    ws();
                    if (peek() == ',') {
                        i++;
                        continue;
                    }
                    expect(close);
                    return;
                }
            } else {
                int start = i;
                while (i < s.length() && "{}[],: \t\r\n\"".indexOf(s.charAt(i)) < 0) {
                    i++;
                }
                if (i == start) {
                    throw new IllegalArgumentException("a value");
                }
            }
        }
    }
}
