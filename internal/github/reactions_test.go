package github

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/github/ghtest"
)

func TestListCommentReactions(t *testing.T) {
	tests := []struct {
		name   string
		humans int // reactions by people besides the bot's two
	}{
		{"one page", 3},
		{"several pages", 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ghtest.NewServer(t)
			setupPR(srv)
			c := newClient(t, srv)
			ctx := context.Background()
			id := srv.AddComment("acme/shop", 7, "alice", "esm prod plan")
			require.NoError(t, c.CreateCommentReaction(ctx, shop, id, "eyes"))
			for i := range tt.humans {
				srv.AddReaction("acme/shop", id, fmt.Sprintf("user%d", i), "+1")
			}
			require.NoError(t, c.CreateCommentReaction(ctx, shop, id, "rocket"))

			got, err := c.ListCommentReactions(ctx, shop, id)
			require.NoError(t, err)
			require.Len(t, got, tt.humans+2)
			assert.Equal(t, forge.Reaction{Content: "eyes", User: ghtest.BotLogin}, got[0])
			assert.Equal(t, forge.Reaction{Content: "+1", User: "user0"}, got[1])
			assert.Equal(t, forge.Reaction{Content: "rocket", User: ghtest.BotLogin}, got[len(got)-1])
		})
	}
	t.Run("no such comment", func(t *testing.T) {
		srv := ghtest.NewServer(t)
		c := newClient(t, srv)
		_, err := c.ListCommentReactions(context.Background(), shop, 12345)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "list reactions to comment 12345 on acme/shop")
	})
}
