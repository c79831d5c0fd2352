package facevault

// FaceSimilarity exposes faceSimilarity to the external tests, which can
// compare it with faceid.Similarity (this package cannot import faceid).
var FaceSimilarity = faceSimilarity
