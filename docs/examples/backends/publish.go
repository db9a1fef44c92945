// Publish to Hubbub from a Go backend with the standard library only (net/http, crypto/hmac).
// Run: HUBBUB_URL=http://localhost:8080 HUBBUB_API_KEY=... HUBBUB_TOKEN_SECRET=... go run publish.go
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Error is a refusal; Code comes from the error table (unauthorized, forbidden, rate_limited...).
type Error struct {
	Status    int    `json:"-"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

type Position struct {
	Channel string `json:"channel"`
	Epoch   string `json:"epoch"`
	Offset  int64  `json:"offset"`
}

// Publish is the body of a publish (Channel) or a broadcast (Channels); IdempotencyKey makes retries safe.
type Publish struct {
	Channel        string            `json:"channel,omitempty"`
	Channels       []string          `json:"channels,omitempty"`
	Data           any               `json:"data"`
	IdempotencyKey string            `json:"idempotencyKey,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
}

type Broadcast struct {
	Results []struct {
		Position
		Error *Error `json:"error,omitempty"`
	} `json:"results"`
}

type History struct {
	Publications []struct {
		Position
		Data json.RawMessage `json:"data"`
		Time int64           `json:"time"`
	} `json:"publications"`
	Epoch  string `json:"epoch"`
	Offset int64  `json:"offset"`
}

type Client struct {
	URL, APIKey, TokenSecret string
	HTTP                     *http.Client
}

func (c *Client) api(method, path string, body, out any) error {
	var payload bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&payload).Encode(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(method, c.URL+path, &payload)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		e := &Error{Status: res.StatusCode}
		if err := json.NewDecoder(res.Body).Decode(e); err != nil {
			return fmt.Errorf("hubbub: %s", res.Status)
		}
		return e
	}
	return json.NewDecoder(res.Body).Decode(out)
}

func (c *Client) Publish(p Publish) (pos Position, err error) {
	return pos, c.api("POST", "/api/publish", p, &pos)
}

func (c *Client) Broadcast(p Publish) (b Broadcast, err error) {
	return b, c.api("POST", "/api/broadcast", p, &b)
}

func (c *Client) History(channel string, limit int) (h History, err error) {
	return h, c.api("GET", fmt.Sprintf("/api/channels/%s/history?limit=%d", url.PathEscape(channel), limit), nil, &h)
}

// UserToken mints a connection token (HS256 JWT); golang-jwt/jwt does the same if you use it.
func (c *Client) UserToken(user string, ttl time.Duration) string {
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "channels": []string{"notifications:#" + user}})
	signed := b64(header) + "." + b64(claims)
	mac := hmac.New(sha256.New, []byte(c.TokenSecret))
	mac.Write([]byte(signed))
	return signed + "." + b64(mac.Sum(nil))
}

func main() {
	hubbub := &Client{os.Getenv("HUBBUB_URL"), os.Getenv("HUBBUB_API_KEY"), os.Getenv("HUBBUB_TOKEN_SECRET"), &http.Client{Timeout: 10 * time.Second}}
	out := json.NewEncoder(os.Stdout)
	show := func(label string, v any, err error) {
		if err != nil {
			log.Fatalf("%s: %v", label, err)
		}
		out.Encode(map[string]any{label: v})
	}
	pos, err := hubbub.Publish(Publish{Channel: "chat:lobby", Data: map[string]string{"text": "hello from Go"}})
	show("published", pos, err)
	// A retry with the same key (a timeout, a re-run job) publishes nothing twice: same positions.
	alert := Publish{Channels: []string{"chat:lobby", "ops:alerts"}, Data: map[string]string{"text": "deploy 42 finished"}, IdempotencyKey: "deploy-42"}
	b, err := hubbub.Broadcast(alert)
	show("broadcast", b, err)
	b, err = hubbub.Broadcast(alert)
	show("retried", b, err)
	h, err := hubbub.History("chat:lobby", 10)
	show("history", h, err)
	show("token", hubbub.UserToken("ada", 15*time.Minute), nil)
}
