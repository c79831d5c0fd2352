package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/facevault/facevault/client"
	"github.com/facevault/facevault/internal/testimage"
)

// The Examples run against a FaceVault server the tests start:
// exampleEnv.URL and exampleEnv.Key stand for your deployment's URL and
// API key.

// selfie returns a JPEG of 50 KB, standing for a user's selfie.
func selfie() []byte { return testimage.JPEGSize(50<<10, 7) }

func Example() {
	ctx := context.Background()
	fv, err := client.New(exampleEnv.URL, exampleEnv.Key)
	if err != nil {
		log.Fatal(err)
	}
	person, err := fv.CreateClient(ctx, &client.ClientParams{
		Type:          client.ClientPerson,
		Email:         "jane@example.com",
		PersonDetails: &client.PersonDetails{FirstName: "Jane", LastName: "Doe"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client:", person.EntityName)

	// Upload from any io.Reader; a *bytes.Reader or *os.File can be
	// rewound, so the upload is retried if the network fails.
	photo, err := fv.UploadLivePhoto(ctx, &client.UploadParams{
		ClientID:             person.ID,
		Image:                bytes.NewReader(selfie()),
		PerformLivenessCheck: client.Bool(false),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("photo:", photo.ContentType, photo.Size, "bytes")

	// Download into a buffer (or a temporary file); use it only if the
	// download succeeded and was verified.
	var img bytes.Buffer
	d, err := fv.DownloadLivePhoto(ctx, photo.ID, &img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("downloaded:", d.Size, "bytes, verified:", d.Verified)

	if err := fv.DeleteClient(ctx, person.ID); err != nil {
		log.Fatal(err)
	}
	_, err = fv.GetClient(ctx, person.ID)
	fmt.Println("after delete, not found:", client.IsNotFound(err))
	// Output:
	// client: Jane Doe
	// photo: images/jpg 51200 bytes
	// downloaded: 51200 bytes, verified: true
	// after delete, not found: true
}

func ExampleClient_Clients() {
	ctx := context.Background()
	fv, err := client.New(exampleEnv.URL, exampleEnv.Key)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"Ada", "Grace", "Edsger"} {
		_, err := fv.CreateClient(ctx, &client.ClientParams{
			Type: client.ClientPerson, Email: name + "@example.com", ExternalID: "example-clients",
			PersonDetails: &client.PersonDetails{FirstName: name, LastName: "Example"},
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	// Pages of two, fetched as the loop needs them; newest first.
	filter := &client.ClientFilter{ExternalID: "example-clients", ListOptions: client.ListOptions{PageSize: 2}}
	for c, err := range fv.Clients(ctx, filter) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.EntityName)
	}
	// Output:
	// Edsger Example
	// Grace Example
	// Ada Example
}

func ExampleError() {
	ctx := context.Background()
	fv, err := client.New(exampleEnv.URL, exampleEnv.Key)
	if err != nil {
		log.Fatal(err)
	}
	_, err = fv.CreateClient(ctx, &client.ClientParams{Type: client.ClientPerson})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Type, apiErr.Param)
	}
	// Output:
	// 400 invalid_request email
}

func ExampleClient_DownloadLivePhoto() {
	ctx := context.Background()
	fv, err := client.New(exampleEnv.URL, exampleEnv.Key)
	if err != nil {
		log.Fatal(err)
	}
	person, err := fv.CreateClient(ctx, &client.ClientParams{
		Type: client.ClientCompany, Email: "kyc@example.com", CompanyDetails: &client.CompanyDetails{Name: "Example Ltd"},
	})
	if err != nil {
		log.Fatal(err)
	}
	photo, err := fv.UploadLivePhoto(ctx, &client.UploadParams{ClientID: person.ID, Image: bytes.NewReader(selfie()), PerformLivenessCheck: client.Bool(false)})
	if err != nil {
		log.Fatal(err)
	}

	// Write to a temporary file and keep it only if the download was
	// complete and matched the service's digest.
	f, err := os.CreateTemp("", "selfie-*.jpg")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	d, err := fv.DownloadLivePhoto(ctx, photo.ID, f)
	switch {
	case errors.Is(err, client.ErrIntegrity):
		log.Fatal("the image was altered on the way: ", err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(d.ContentType, d.Verified)
	// Output:
	// images/jpg true
}
