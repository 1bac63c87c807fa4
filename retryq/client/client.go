// Package client talks to a vigil sidecar's retry queue over HTTP
// (/v1/retryq). It has no dependency on the sidecar's own packages so that
// applications can import it cheaply.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls one sidecar's /v1/retryq endpoints. It is safe for
// concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for the sidecar at baseURL (e.g.
// "http://127.0.0.1:9380"). token, when not empty, is sent as a bearer
// token. httpClient nil means http.DefaultClient.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: httpClient}
}

// Enqueue stores items durably in the sidecar's queue and returns their IDs
// in order. It returns only after the sidecar has the items on disk. An
// error matching ErrQueueFull means nothing was queued.
func (c *Client) Enqueue(ctx context.Context, items []EnqueueItem) ([]string, error) {
	body, err := json.Marshal(struct {
		Items []EnqueueItem `json:"items"`
	}{items})
	if err != nil {
		return nil, fmt.Errorf("encode items: %w", err)
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/retryq", nil, body, &out); err != nil {
		return nil, err
	}
	return out.IDs, nil
}

// Stats returns the queue's counts and limits.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.do(ctx, http.MethodGet, "/v1/retryq/stats", nil, nil, &s)
	return s, err
}

// List returns items in queue order.
func (c *Client) List(ctx context.Context, opts ListOptions) ([]Item, error) {
	q := url.Values{}
	if opts.State != "" {
		q.Set("state", string(opts.State))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.After != "" {
		q.Set("after", opts.After)
	}
	var out struct {
		Items []Item `json:"items"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/retryq", q, nil, &out)
	return out.Items, err
}

// Get returns one item.
func (c *Client) Get(ctx context.Context, id string) (Item, error) {
	var it Item
	err := c.do(ctx, http.MethodGet, "/v1/retryq/"+url.PathEscape(id), nil, nil, &it)
	return it, err
}

// Requeue makes an item ready again with its attempts reset, whether it
// was dead-lettered or waiting in backoff, and returns it.
func (c *Client) Requeue(ctx context.Context, id string) (Item, error) {
	var it Item
	err := c.do(ctx, http.MethodPost, "/v1/retryq/"+url.PathEscape(id)+"/requeue", nil, nil, &it)
	return it, err
}

// Delete removes one item that is not being replayed.
func (c *Client) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/retryq/"+url.PathEscape(id), nil, nil, nil)
}

// Purge removes every item in state (StateDead or StateReady) and returns
// how many it removed.
func (c *Client) Purge(ctx context.Context, state State) (int, error) {
	var out struct {
		Deleted int `json:"deleted"`
	}
	err := c.do(ctx, http.MethodDelete, "/v1/retryq", url.Values{"state": {string(state)}}, nil, &out)
	return out.Deleted, err
}

// Export writes the dead letters to w as JSON lines, one Item per line.
func (c *Client) Export(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/retryq/export", nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, &Error{StatusCode: resp.StatusCode, Message: msg})
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}
