package client

import (
	"context"
	"iter"
	"maps"
	"net/url"
	"strconv"
	"time"
)

// Page is one page of a list: the contract's envelope
// {"page","pageSize","totalItems","pages","items"}.
type Page[T any] struct {
	Page       int `json:"page"`
	PageSize   int `json:"pageSize"`
	TotalItems int `json:"totalItems"`
	Pages      int `json:"pages"`
	Items      []T `json:"items"`
}

// Lists return at most MaxPageSize items a page, DefaultPageSize unless
// asked otherwise.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ListOptions are the paging and time filters every list takes. The zero
// value asks for the first page of DefaultPageSize items, unfiltered.
type ListOptions struct {
	// Page is the page to fetch, from 1 (0 means 1). The iterators
	// (Clients, LivePhotos, …) start at it and go on to the last page.
	Page int
	// PageSize is the number of items a page, 1 to MaxPageSize (0 means
	// DefaultPageSize).
	PageSize int
	// The time filters keep the items created (updated) strictly after or
	// before a time; the zero time is no bound.
	CreatedAfter, CreatedBefore time.Time
	UpdatedAfter, UpdatedBefore time.Time
}

// timeParam is the format of time filters: ISO-8601 UTC, as the service
// writes its own times.
const timeParam = "2006-01-02T15:04:05.000Z"

// values returns o's query parameters.
func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(o.PageSize))
	}
	for name, t := range map[string]time.Time{
		"createdAfter": o.CreatedAfter, "createdBefore": o.CreatedBefore,
		"updatedAfter": o.UpdatedAfter, "updatedBefore": o.UpdatedBefore,
	} {
		if !t.IsZero() {
			q.Set(name, t.UTC().Format(timeParam))
		}
	}
	return q
}

// setIf sets a query parameter unless v is empty.
func setIf(q url.Values, name, v string) {
	if v != "" {
		q.Set(name, v)
	}
}

// listPage fetches one page of a list.
func listPage[T any](ctx context.Context, c *Client, path string, q url.Values) (*Page[T], error) {
	var p Page[T]
	if err := c.getJSON(ctx, path, q, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// all yields every item of a list from page start on, fetching each page
// only when the loop reaches it. An error ends the sequence after it is
// yielded. Items created while the loop runs may shift the pages (lists
// are newest first): a loop over a list that grows may see an item twice.
func all[T any](ctx context.Context, c *Client, path string, q url.Values, start, pageSize int) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		q := maps.Clone(q) // each loop over the sequence pages on its own
		page := max(start, 1)
		if pageSize <= 0 {
			pageSize = DefaultPageSize
		}
		q.Set("pageSize", strconv.Itoa(pageSize))
		for {
			q.Set("page", strconv.Itoa(page))
			p, err := listPage[T](ctx, c, path, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range p.Items {
				if !yield(&p.Items[i], nil) {
					return
				}
			}
			if len(p.Items) < pageSize || page >= p.Pages {
				return
			}
			page++
		}
	}
}
