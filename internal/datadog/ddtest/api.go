package ddtest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// maxPageSize is the largest page_size Datadog accepts (ListMonitors in
// the spec).
const maxPageSize = 1000

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /api/v1/monitor", s.listMonitors)
	s.mux.HandleFunc("POST /api/v1/monitor", s.createMonitor)
	s.mux.HandleFunc("POST /api/v1/monitor/validate", s.validateMonitor)
	s.mux.HandleFunc("GET /api/v1/monitor/{id}", s.getMonitor)
	s.mux.HandleFunc("PUT /api/v1/monitor/{id}", s.updateMonitor)
	s.mux.HandleFunc("DELETE /api/v1/monitor/{id}", s.deleteMonitor)
	s.mux.HandleFunc("POST /api/v1/monitor/{id}/validate", s.validateExistingMonitor)
	s.mux.HandleFunc("GET /api/v1/validate", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
	})
}

// listMonitors answers ListMonitors: GET /api/v1/monitor.
func (s *Server) listMonitors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := listFilter{
		name:        strings.ToLower(q.Get("name")),
		monitorTags: lowerAll(q.Get("monitor_tags")),
		scopeTags:   lowerAll(q.Get("tags")),
	}
	if v := q.Get("group_states"); v != "" {
		for _, g := range lowerAll(v) {
			if g != "all" && g != "alert" && g != "warn" && g != "no data" {
				writeErrors(w, http.StatusBadRequest, msgGroupStates)
				return
			}
		}
	}
	var err error
	if v := q.Get("id_offset"); v != "" {
		if f.idOffset, err = strconv.ParseInt(v, 10, 64); err != nil {
			writeErrors(w, http.StatusBadRequest, "The value provided for parameter 'id_offset' is invalid")
			return
		}
	}
	page, size := -1, 0
	if q.Has("page") {
		if page, err = strconv.Atoi(q.Get("page")); err != nil || page < 0 {
			writeErrors(w, http.StatusBadRequest, "The value provided for parameter 'page' is invalid")
			return
		}
		size = 100
		if v := q.Get("page_size"); v != "" {
			if size, err = strconv.Atoi(v); err != nil || size < 1 || size > maxPageSize {
				writeErrors(w, http.StatusBadRequest, "The value provided for parameter 'page_size' is invalid: it must be between 1 and 1000")
				return
			}
		}
	}

	s.mu.Lock()
	var found []*Monitor
	for _, m := range s.monitors {
		if f.matches(m) {
			found = append(found, m)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
	if page >= 0 {
		lo := min(page*size, len(found))
		found = found[lo:min(lo+size, len(found))]
	}
	out := make([]map[string]any, len(found))
	for i, m := range found {
		out[i] = m.render()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// getMonitor answers GetMonitor: GET /api/v1/monitor/{id}.
func (s *Server) getMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.requested(w, r); ok {
		writeJSON(w, http.StatusOK, m.render())
	}
}

// createMonitor answers CreateMonitor: POST /api/v1/monitor.
func (s *Server) createMonitor(w http.ResponseWriter, r *http.Request) {
	body, ok := decodeNew(w, r, true)
	if !ok {
		return
	}
	var m Monitor
	if msg := decodeFields(body, &m); msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	normalise(&m)

	s.mu.Lock()
	m.ID = s.nextID
	s.nextID++
	m.Created = s.now()
	m.Modified = m.Created
	s.monitors[m.ID] = &m
	out := m.render()
	failed := s.createFaults > 0
	if failed {
		s.createFaults--
	}
	s.mu.Unlock()

	if failed {
		writeErrors(w, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// updateMonitor answers UpdateMonitor: PUT /api/v1/monitor/{id}. The
// top-level fields in the body replace the stored ones; options, when
// present, are replaced as a whole.
func (s *Server) updateMonitor(w http.ResponseWriter, r *http.Request) {
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.requested(w, r)
	if !ok {
		return
	}
	m := cur.clone()
	if v, ok := body["type"]; ok {
		if msg := checkType(v, true); msg != "" {
			writeErrors(w, http.StatusBadRequest, msg)
			return
		}
		if typ := v.(string); typ != m.Type && !(typ == "metric alert" && m.Type == "query alert") {
			writeErrors(w, http.StatusBadRequest, msgTypeChange)
			return
		}
	}
	if v, ok := body["query"]; ok {
		if msg := checkQuery(v, true, m.Type); msg != "" {
			writeErrors(w, http.StatusBadRequest, msg)
			return
		}
	}
	if v, ok := body["name"]; ok {
		if name, _ := v.(string); name == "" {
			writeErrors(w, http.StatusBadRequest, msgNameRequired)
			return
		}
	}
	if msg := decodeFields(body, &m); msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	normalise(&m)
	m.Modified = s.now()
	s.monitors[m.ID] = &m
	writeJSON(w, http.StatusOK, m.render())
}

// deleteMonitor answers DeleteMonitor: DELETE /api/v1/monitor/{id}.
func (s *Server) deleteMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.requested(w, r); ok {
		delete(s.monitors, m.ID)
		writeJSON(w, http.StatusOK, map[string]int64{"deleted_monitor_id": m.ID})
	}
}

// validateMonitor answers ValidateMonitor: POST /api/v1/monitor/validate.
func (s *Server) validateMonitor(w http.ResponseWriter, r *http.Request) {
	if _, ok := decodeNew(w, r, false); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// validateExistingMonitor answers ValidateExistingMonitor:
// POST /api/v1/monitor/{id}/validate.
func (s *Server) validateExistingMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, found := s.requested(w, r)
	s.mu.Unlock()
	if found {
		s.validateMonitor(w, r)
	}
}

// checkNew returns the 400 message for a new monitor's body, or "":
// type first, then query, then (for a create) name, as Datadog checks.
func checkNew(body map[string]any, needName bool) string {
	typ, hasType := body["type"]
	if msg := checkType(typ, hasType); msg != "" {
		return msg
	}
	q, hasQuery := body["query"]
	if msg := checkQuery(q, hasQuery, typ.(string)); msg != "" {
		return msg
	}
	if needName {
		if name, _ := body["name"].(string); strings.TrimSpace(name) == "" {
			return msgNameRequired
		}
	}
	var m Monitor
	return decodeFields(body, &m)
}

// decodeNew decodes the body of a new monitor, answering 400 itself when
// Datadog would refuse it.
func decodeNew(w http.ResponseWriter, r *http.Request, needName bool) (map[string]any, bool) {
	body, ok := decodeBody(w, r)
	if !ok {
		return nil, false
	}
	if msg := checkNew(body, needName); msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return nil, false
	}
	return body, true
}

func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body == nil {
		writeErrors(w, http.StatusBadRequest, msgInvalidJSON)
		return nil, false
	}
	return body, true
}

// requested returns the stored monitor the request's {id} names; when
// there is none it answers 400 or 404 itself. The caller holds s.mu.
func (s *Server) requested(w http.ResponseWriter, r *http.Request) (*Monitor, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, msgInvalidID)
		return nil, false
	}
	m, ok := s.monitors[id]
	if !ok {
		writeErrors(w, http.StatusNotFound, msgNotFound)
	}
	return m, ok
}
