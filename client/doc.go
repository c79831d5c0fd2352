// Package client is a Go client of FaceVault's ComplyCube-compatible API
// (docs/contract.md): clients, live photos, checks, audit logs, deletion
// receipts and retention. The calls FaceVault shares with ComplyCube follow
// ComplyCube's v1 API, which FaceVault speaks. It needs only the standard
// library.
//
// # Use
//
//	ctx := context.Background()
//	fv, err := client.New("https://facevault.example.com", os.Getenv("FACEVAULT_API_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	person, err := fv.CreateClient(ctx, &client.ClientParams{
//		Type:          client.ClientPerson,
//		Email:         "jane@example.com",
//		PersonDetails: &client.PersonDetails{FirstName: "Jane", LastName: "Doe"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	f, err := os.Open("selfie.jpg")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer f.Close()
//	photo, err := fv.UploadLivePhoto(ctx, &client.UploadParams{ClientID: person.ID, Image: f})
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Param == "data" {
//		log.Fatalf("not a usable selfie: %s", apiErr.Message)
//	} else if err != nil {
//		log.Fatal(err)
//	}
//	check, err := fv.CreateCheck(ctx, &client.CheckParams{
//		ClientID: person.ID, Type: client.CheckFaceAuthentication, LivePhotoID: photo.ID,
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	check, err = fv.WaitCheck(ctx, check.ID, time.Second)
//	if err != nil {
//		log.Fatal(err)
//	}
//	if check.Result != nil {
//		fmt.Println("face authentication:", check.Result.Outcome)
//	}
//	for c, err := range fv.Clients(ctx, &client.ClientFilter{Type: client.ClientPerson}) {
//		if err != nil {
//			log.Fatal(err)
//		}
//		fmt.Println(c.ID, c.EntityName)
//	}
//
// # Errors
//
// An unsuccessful answer is an *Error with the HTTP status, the service's
// error type, message and param, and the request's X-Request-Id. Get it
// with errors.As, or test it with IsNotFound, IsInvalid, IsConflict,
// IsUnprocessable, IsUnauthorized, IsRateLimited and HasType. A request that
// got no answer at all is a *NetworkError. A download whose bytes do not
// match the digest the service sent is an *IntegrityError.
//
// # Retries
//
// A request is tried again (WithRetries, 3 times by default) when it got no
// answer (the connection failed or was cut), or was answered 408, 429, 5xx
// (other than 501 and 505), or 409 idempotency_key_in_use (an earlier
// attempt of the same call still running). The waits grow exponentially
// (WithBackoff) with jitter (WithJitter), and a longer Retry-After is
// honoured. A context that ends stops the retries at once.
//
// GET and DELETE are retried freely. Every POST carries an Idempotency-Key
// header, generated once per call and the same on each of its attempts (or
// the caller's, WithIdempotencyKey): a service that has seen the key
// answers a repeat as it answered the first, so a retried create does not
// create twice. Uploads whose image reader cannot be rewound are the
// exception: see UploadLivePhoto.
//
// # Streaming
//
// UploadLivePhoto and DownloadLivePhoto hold neither an image nor its
// base64 whole in memory: the upload's JSON body is written through a pipe
// as the image is read and encoded, and the download's is decoded as it
// arrives, straight into the caller's writer, and checked against the
// image's SHA-256 that FaceVault sends with it.
//
// # Lists
//
// Each list has a call that returns one page (ListClients, …) and an
// iterator over all pages (Clients, …) for range-over-func loops; the
// iterator fetches each page when the loop reaches it and stops fetching
// when the loop breaks.
package client
