package http

// UploadsWaiting returns how many uploads wait for a processing slot: their
// body has arrived, every slot is taken.
func (s *Server) UploadsWaiting() int {
	_, _, n := s.slots.state()
	return n
}
