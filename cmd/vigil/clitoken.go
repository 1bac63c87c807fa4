package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// tokenEnv is where the CLI takes the bearer token from when neither
// --token nor --token-file is given, so the secret stays out of the
// process list and the shell history.
const tokenEnv = "VIGIL_TOKEN"

// resolve fills Token from --token-file or $VIGIL_TOKEN when --token was
// not given. A token file that cannot be read, or is empty, is an error.
func (o *adminOptions) resolve(environ []string) error {
	if _, err := o.httpClient(); err != nil {
		return err // a bad --cacert fails before any request
	}
	if o.Token != "" && o.TokenFile != "" {
		return fmt.Errorf("%w: give --token or --token-file, not both", errUsage)
	}
	if o.TokenFile != "" {
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if o.Token = strings.TrimRight(string(b), "\r\n"); o.Token == "" {
			return fmt.Errorf("--token-file %q is empty", o.TokenFile)
		}
		return nil
	}
	if o.Token == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, tokenEnv+"="); ok {
				o.Token = v
			}
		}
	}
	return nil
}

// httpClient is the client for the sidecar: the system roots, or --cacert
// for a sidecar serving http.tls with a private CA.
func (o *adminOptions) httpClient() (*http.Client, error) {
	if o.CAFile == "" {
		return http.DefaultClient, nil
	}
	b, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--cacert %q: no PEM certificate found", o.CAFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}, nil
}
