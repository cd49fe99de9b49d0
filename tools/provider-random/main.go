// Command pulumi-resource-random is a small native stand-in for the Pulumi `random` provider, written for the
// gitspace toolchain: the upstream provider (github.com/pulumi/pulumi-random/provider/v4, a Terraform bridge of
// terraform-provider-random) is not served by the Go module proxy reachable here, at any version we could name.
//
// It implements, with the same tokens, inputs, defaults and outputs as @pulumi/random (and the semantics of
// terraform-provider-random: every input change replaces the resource, `keepers` included):
//   - random:index/randomPassword:RandomPassword  (result and bcryptHash; id "none")
//   - random:index/randomString:RandomString      (result; id = result)
//
// Other random resources answer with an error that says so.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is stamped at build time with the @pulumi/random version (-ldflags -X main.version=4.x.y).
var version = "0.0.0-dev"

const (
	passwordType = "random:index/randomPassword:RandomPassword"
	stringType   = "random:index/randomString:RandomString"
	// terraform-provider-random's default special characters
	defaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

// input properties, all of which force a replacement when they change
var inputKeys = []string{
	"keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper",
	"number", "numeric", "overrideSpecial", "special", "upper",
}

func main() {
	for _, a := range os.Args[1:] {
		if a == "-version" || a == "--version" {
			fmt.Println(version)
			return
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, &provider{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: %v\n", err)
		os.Exit(1)
	}
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

var opts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) { return plugin.UnmarshalProperties(s, opts) }
func marshal(m resource.PropertyMap) (*structpb.Struct, error)   { return plugin.MarshalProperties(m, opts) }

func resourceType(urn, typ string) string {
	if typ != "" {
		return typ
	}
	return string(resource.URN(urn).Type())
}

func supported(t string) error {
	if t == passwordType || t == stringType {
		return nil
	}
	return fmt.Errorf("resource type %s is not implemented by the gitspace toolchain's random provider "+
		"(RandomPassword and RandomString are)", t)
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"random","version":%q}`, version)}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true}, nil
}

// ---- Check: defaults and validation -------------------------------------------------------------------------

func boolOr(m resource.PropertyMap, k string, def bool) (bool, bool) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok || v.IsNull() {
		return def, false
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsBool() {
		return v.BoolValue(), true
	}
	return def, false
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t := resourceType(req.GetUrn(), req.GetType())
	if err := supported(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	length, hasLength := news["length"]
	switch {
	case !hasLength || length.IsNull():
		fail("length", "Missing required property 'length'")
	case length.IsComputed():
	case !length.IsNumber() || length.NumberValue() < 1 || length.NumberValue() != float64(int(length.NumberValue())):
		fail("length", "length must be an integer of at least 1")
	}
	for _, k := range []string{"upper", "lower", "special"} {
		b, _ := boolOr(news, k, true)
		news[resource.PropertyKey(k)] = resource.NewBoolProperty(b)
	}
	// `number` is the deprecated name of `numeric`; either one set to false turns digits off
	numeric, numericSet := boolOr(news, "numeric", true)
	number, numberSet := boolOr(news, "number", true)
	if numberSet && !numericSet {
		numeric = number
	}
	news["numeric"] = resource.NewBoolProperty(numeric)
	news["number"] = resource.NewBoolProperty(numeric)
	total := 0.0
	for _, k := range []string{"minLower", "minNumeric", "minSpecial", "minUpper"} {
		v, ok := news[resource.PropertyKey(k)]
		if !ok || v.IsNull() {
			news[resource.PropertyKey(k)] = resource.NewNumberProperty(0)
			continue
		}
		if v.IsNumber() {
			if v.NumberValue() < 0 {
				fail(k, k+" must be at least 0")
			}
			total += v.NumberValue()
		}
	}
	if hasLength && length.IsNumber() && total > length.NumberValue() {
		fail("length", "length must be at least the sum of the min* properties")
	}
	ins, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: ins, Failures: failures}, nil
}

// ---- Diff: any input change replaces -----------------------------------------------------------------------------

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldsStruct := req.GetOldInputs()
	if oldsStruct == nil {
		oldsStruct = req.GetOlds()
	}
	olds, err := unmarshal(oldsStruct)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[k] = true
	}
	var replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, k := range inputKeys {
		if ignored[k] {
			continue
		}
		o, hasO := olds[resource.PropertyKey(k)]
		n, hasN := news[resource.PropertyKey(k)]
		if !hasO {
			o = resource.NewNullProperty()
		}
		if !hasN {
			n = resource.NewNullProperty()
		}
		if n.IsComputed() || !o.DeepEquals(n) {
			replaces = append(replaces, k)
			kind := pulumirpc.PropertyDiff_UPDATE_REPLACE
			if !hasO || o.IsNull() {
				kind = pulumirpc.PropertyDiff_ADD_REPLACE
			} else if !hasN || n.IsNull() {
				kind = pulumirpc.PropertyDiff_DELETE_REPLACE
			}
			detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		}
	}
	sort.Strings(replaces)
	if len(replaces) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}, nil
	}
	return &pulumirpc.DiffResponse{
		Changes: pulumirpc.DiffResponse_DIFF_SOME, Replaces: replaces, Diffs: replaces,
		DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

// ---- Create: generate -------------------------------------------------------------------------------------------

func intOf(m resource.PropertyMap, k string) int {
	v, ok := m[resource.PropertyKey(k)]
	if ok && v.IsNumber() {
		return int(v.NumberValue())
	}
	return 0
}

func randIndex(n int) (int, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(i.Int64()), nil
}

func randomFrom(set string, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for range n {
		i, err := randIndex(len(set))
		if err != nil {
			return nil, err
		}
		out = append(out, set[i])
	}
	return out, nil
}

// generate follows terraform-provider-random: the minimum of each class first, the rest from all enabled
// classes, then a shuffle.
func generate(in resource.PropertyMap) (string, error) {
	const (
		lowerChars   = "abcdefghijklmnopqrstuvwxyz"
		upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		numericChars = "0123456789"
	)
	special := defaultSpecial
	if v, ok := in["overrideSpecial"]; ok && v.IsString() {
		special = v.StringValue()
	}
	classes := []struct {
		on    bool
		chars string
		min   int
	}{
		{in["upper"].IsBool() && in["upper"].BoolValue(), upperChars, intOf(in, "minUpper")},
		{in["lower"].IsBool() && in["lower"].BoolValue(), lowerChars, intOf(in, "minLower")},
		{in["numeric"].IsBool() && in["numeric"].BoolValue(), numericChars, intOf(in, "minNumeric")},
		{in["special"].IsBool() && in["special"].BoolValue(), special, intOf(in, "minSpecial")},
	}
	length := intOf(in, "length")
	var all strings.Builder
	var result []byte
	for _, c := range classes {
		if !c.on || c.chars == "" {
			continue
		}
		all.WriteString(c.chars)
		part, err := randomFrom(c.chars, c.min)
		if err != nil {
			return "", err
		}
		result = append(result, part...)
	}
	if all.Len() == 0 {
		return "", errors.New("no characters to choose from: enable at least one of upper, lower, numeric, special")
	}
	if rest := length - len(result); rest > 0 {
		part, err := randomFrom(all.String(), rest)
		if err != nil {
			return "", err
		}
		result = append(result, part...)
	}
	for i := len(result) - 1; i > 0; i-- {
		j, err := randIndex(i + 1)
		if err != nil {
			return "", err
		}
		result[i], result[j] = result[j], result[i]
	}
	return string(result), nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	t := resourceType(req.GetUrn(), req.GetType())
	if err := supported(t); err != nil {
		return nil, err
	}
	in, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	out := in.Copy()
	if req.GetPreview() {
		out["result"] = resource.MakeComputed(resource.NewStringProperty(""))
		if t == passwordType {
			out["bcryptHash"] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		props, err := marshal(out)
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	result, err := generate(in)
	if err != nil {
		return nil, err
	}
	id := result
	out["result"] = resource.NewStringProperty(result)
	if t == passwordType {
		id = "none"
		hash, err := bcrypt.GenerateFromPassword([]byte(result), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		out["result"] = resource.MakeSecret(resource.NewStringProperty(result))
		out["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty(string(hash)))
	}
	props, err := marshal(out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read (refresh) keeps the state: nothing outside Pulumi holds these values.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if len(req.GetProperties().GetFields()) == 0 {
		return nil, errors.New("import is not supported by the gitspace toolchain's random provider")
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Update is only reached when nothing that matters changed (every input replaces): keep the outputs.
func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	return &pulumirpc.UpdateResponse{Properties: req.GetOlds()}, nil
}

func (p *provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
