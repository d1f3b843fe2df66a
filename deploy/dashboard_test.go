package deploy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string         `json:"name"`
			Type       string         `json:"type"`
			Query      any            `json:"query"`
			Datasource *datasourceRef `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *datasourceRef     `json:"datasource"`
	GridPos    struct{ X, W int } `json:"gridPos"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

const dashboardFile = "grafana/esm-dashboard.json"

func TestDashboard(t *testing.T) {
	var d dashboard
	if err := json.Unmarshal(mustRead(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("%s: schemaVersion %d, want 36 or later", dashboardFile, d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s: want a uid and a title", dashboardFile)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
		if v.Type == "query" {
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("%s: variable %s: datasource is not ${datasource}", dashboardFile, v.Name)
			}
			q := v.Query
			if m, ok := q.(map[string]any); ok {
				q = m["query"]
			}
			s, _ := q.(string)
			if m := regexp.MustCompile(`^label_values\(\s*([^,]+),`).FindStringSubmatch(s); m != nil {
				s = m[1]
			}
			for _, problem := range queryProblems(s) {
				t.Errorf("%s: variable %s: %s", dashboardFile, v.Name, problem)
			}
		}
	}
	if !hasDS {
		t.Errorf("%s: no variable datasource of type datasource for Prometheus", dashboardFile)
	}

	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range all {
		where := fmt.Sprintf("%s: panel %d %q", dashboardFile, p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: id used twice", where)
		}
		ids[p.ID] = true
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("%s: no title", where)
		}
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: gridPos outside the 24 columns", where)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource is not ${datasource}", where)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no targets", where)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: target %s: no expr", where, tg.RefID)
				continue
			}
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("%s: target %s: datasource is not ${datasource}", where, tg.RefID)
			}
			queries++
			for _, problem := range queryProblems(tg.Expr) {
				t.Errorf("%s: target %s: %s", where, tg.RefID, problem)
			}
		}
	}
	if queries == 0 {
		t.Errorf("%s: no queries", dashboardFile)
	}
}
